"""Transitions refuse invalid moves and always leave an audit event; events are append-only."""

import pytest
from django.contrib.auth.models import User

from imaging.access import visible_jobs
from imaging.engine.errors import Refusal
from imaging.engine.remedy import cancel_job, retry_job
from imaging.models import ImageJob, InvalidTransition, JobEvent, JobState
from imaging.models.events import AppendOnly
from tests.support.cast import make_user
from tests.support.jobs import run_to_uploading, submit


@pytest.mark.django_db
def test_invalid_moves_are_refused_and_change_nothing(k5sim, project, bob):
    job = submit(project, bob)
    events = job.events.count()
    with pytest.raises(InvalidTransition, match="a queued job cannot become succeeded"):
        job.transition(JobState.SUCCEEDED, message="no")
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.events.count() == events


@pytest.mark.django_db
def test_a_second_worker_with_a_stale_copy_cannot_move_the_job_again(k5sim, project, bob):
    job = submit(project, bob)
    stale = ImageJob.objects.get(pk=job.pk)
    job.transition(JobState.CANCELLED, message="first")
    with pytest.raises(InvalidTransition, match="no longer queued"):
        stale.transition(JobState.SUBMITTING, message="second")
    assert list(job.events.filter(kind="transition").values_list("to_state", flat=True)) == [
        "cancelled"
    ]


@pytest.mark.django_db
def test_events_cannot_be_changed_or_removed(k5sim, project, bob):
    event = submit(project, bob).events.first()
    event.message = "rewritten"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        JobEvent.objects.filter(pk=event.pk).update(message="rewritten")
    with pytest.raises(AppendOnly):
        JobEvent.objects.all().delete()


@pytest.mark.django_db
def test_the_request_is_recorded_with_actor_channel_and_volume_snapshot(k5sim, project, bob):
    job = submit(project, bob)
    requested = job.events.first()
    assert requested.actor == bob and requested.actor_name == "bob"
    assert requested.detail["channel"] == "web"
    assert requested.detail["volume"]["name"] == "centos-web-01"
    assert job.volume["os_distro"] == "centos" and job.volume["size"] == 30
    bob.delete()
    requested.refresh_from_db()
    assert requested.actor is None and requested.actor_name == "bob"


@pytest.mark.django_db
def test_cancel_is_refused_once_the_upload_may_have_reached_k5(k5sim, project, bob):
    job = run_to_uploading(project, submit(project, bob))
    with pytest.raises(Refusal, match="already been sent to K5"):
        cancel_job(job, bob)


@pytest.mark.django_db
def test_retry_is_only_for_failed_jobs_and_only_once(k5sim, project, bob):
    job = submit(project, bob)
    with pytest.raises(Refusal, match="this one is queued"):
        retry_job(job, bob, channel="web")
    job.transition(JobState.FAILED, message="test", error_message="test")
    retry = retry_job(job, bob, channel="api")
    assert retry.retry_of == job and retry.channel == "api"
    with pytest.raises(Refusal, match=f"already retried as job {retry.pk}"):
        retry_job(job, bob, channel="web")


@pytest.mark.django_db
def test_who_may_submit_cancel_and_retry(k5sim, project, alice, bob, victor, charlie):
    with pytest.raises(Refusal, match="Viewers cannot create images") as caught:
        submit(project, victor)
    assert caught.value.code == "forbidden"
    with pytest.raises(Refusal, match="Viewers cannot create images"):
        submit(project, charlie)
    carol = make_user("carol", project, "member")
    job = submit(project, bob)
    for someone in (victor, charlie, carol):
        with pytest.raises(Refusal, match="Only the member who requested this job"):
            cancel_job(job, someone)
    assert list(visible_jobs(victor)) == [job] and not visible_jobs(charlie).exists()
    cancel_job(job, alice)  # the project admin may act on bob's job
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    staff = User.objects.create_user("ops", is_staff=True)
    assert list(visible_jobs(staff)) == [job]
