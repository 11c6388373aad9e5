"""A rejected password is tried once; a crash around the upload call never loses a job nor
makes a second image."""

from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.engine.pacing import start_due_uploads
from imaging.engine.polling import poll_project
from imaging.engine.upload import send_upload
from imaging.k5 import K5Client, blockstorage
from imaging.models import EventKind, ImageJob, JobState, UploadAttempt
from tests.support.jobs import poll, submit

TOKENS = "POST /identity/v3/auth/tokens"
UPLOADS = "POST /blockstorage/v2/{project_id}/volumes/{volume_id}/action"


@pytest.mark.django_db
def test_a_rejected_password_is_tried_once_and_jobs_wait_until_it_is_changed(k5sim, project, bob):
    job = submit(project, bob)
    project.set_password("wrong-password")
    project.save()
    k5sim.clear_requests()

    start_due_uploads(project)
    assert send_upload(job.pk) == "requeued: not_sent"
    for _ in range(3):
        start_due_uploads(project)
        poll_project(project)
    assert k5sim.request_counts() == {TOKENS: 1}
    project.refresh_from_db()
    assert not project.credentials_valid
    assert "K5 rejected the credential of demo-user" in project.credentials_error
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert job.waiting_reason == project.credentials_error
    assert UploadAttempt.objects.get(job=job).outcome == "not_sent"

    project.set_password("demo-password")
    project.save()
    started = start_due_uploads(project)
    assert [j.pk for j in started] == [job.pk]
    assert send_upload(job.pk) == "accepted"


def crash_after_post(project, job) -> str:
    """What a worker killed between sending the upload and saving K5's answer leaves behind."""
    start_due_uploads(project)
    ImageJob.objects.filter(pk=job.pk).update(
        submit_started_at=timezone.now() - timedelta(minutes=10)
    )
    accepted = blockstorage.volume_upload_to_image(
        K5Client(project.k5_config()), job.volume_id, job.image_name
    )
    return accepted.image_id


@pytest.mark.django_db
def test_after_a_crash_between_post_and_save_the_job_adopts_k5s_image(k5sim, project, bob):
    job = submit(project, bob)
    image_id = crash_after_post(project, job)
    k5sim.clear_requests()
    poll(project)
    job.refresh_from_db()
    assert (job.state, job.image_id) == (JobState.UPLOADING, image_id)
    assert "answer was lost" in job.events.get(to_state="uploading").message
    assert UPLOADS not in k5sim.request_counts(), "nothing was sent again"
    # The redelivered task (ORM broker) finds the job taken and sends nothing.
    assert send_upload(job.pk).startswith("not claimed")
    assert UPLOADS not in k5sim.request_counts()


@pytest.mark.django_db
def test_an_upload_that_never_left_is_sent_again_exactly_once(k5sim, project, bob):
    job = submit(project, bob)
    start_due_uploads(project)
    ImageJob.objects.filter(pk=job.pk).update(
        submit_started_at=timezone.now() - timedelta(minutes=10)
    )
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert "never happened" in job.events.filter(to_state="queued").last().message
    k5sim.clear_requests()
    start_due_uploads(project)
    assert send_upload(job.pk) == "accepted"
    assert k5sim.request_counts()[UPLOADS] == 1
    assert sum(1 for i in k5sim.state()["images"] if i["name"] == job.image_name) == 1


@pytest.mark.django_db
def test_an_unclear_answer_is_never_resent_before_k5_is_checked(k5sim, project, bob):
    job = submit(project, bob)
    start_due_uploads(project)
    k5sim.add_fault(kind="http", method="POST", path="/action$", status=502)
    assert send_upload(job.pk) == "outcome unknown: left for reconciliation"
    job.refresh_from_db()
    assert job.state == JobState.SUBMITTING
    assert job.events.filter(kind=EventKind.NOTE, message__contains="checked before").exists()
    k5sim.clear_requests()
    poll(project)  # within the grace period: nothing decided, nothing sent
    job.refresh_from_db()
    assert job.state == JobState.SUBMITTING
    assert UPLOADS not in k5sim.request_counts()


@pytest.mark.django_db
def test_a_lost_send_task_is_enqueued_again(
    k5sim, project, bob, django_capture_on_commit_callbacks
):
    job = submit(project, bob)
    start_due_uploads(project)
    UploadAttempt.objects.filter(job=job).update(sent_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks() as callbacks:
        poll(project)
    assert len(callbacks) == 1
    assert job.events.filter(message__startswith="The upload task was lost").exists()
