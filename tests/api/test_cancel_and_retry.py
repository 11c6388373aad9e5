"""POST /jobs/{id}/cancel/ and /retry/: allowed only in some states; otherwise 409 with the
reason, and nothing changes."""

from __future__ import annotations

import pytest

from imaging.engine.pacing import start_due_uploads
from imaging.engine.upload import send_upload
from imaging.models import EventKind, ImageJob, JobEvent, JobState
from tests.api.client import error_of
from tests.support.demo import OLD_IMAGE
from tests.support.jobs import make_job


def refused(api, user, job, action: str) -> dict:
    """POST /jobs/{id}/<action>/ as `user`: a 409 `not_allowed` refusal, whose error is returned."""
    response = api(user).post(f"/api/v1/jobs/{job.pk}/{action}/")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "not_allowed"
    return error


def test_cancelling_a_queued_job_ends_it_and_records_who_did(api, project, bob):
    job = make_job(project, bob)
    response = api(bob).post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["terminal"]) == ("cancelled", True)
    event = JobEvent.objects.filter(job=job, kind=EventKind.TRANSITION).get()
    assert (event.actor_name, event.from_state, event.to_state) == ("bob", "queued", "cancelled")


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (JobState.SUBMITTING, "already been sent to K5 and cannot be called back"),
        (JobState.UPLOADING, "already been sent to K5 and cannot be called back"),
        (JobState.VERIFYING, "already been sent to K5 and cannot be called back"),
        (JobState.SUCCEEDED, "The job has already ended (succeeded)."),
        (JobState.FAILED, "The job has already ended (failed)."),
        (JobState.SYNC_FAILED, "The job has already ended (sync failed)."),
        (JobState.CANCELLED, "The job has already ended (cancelled)."),
    ],
)
def test_a_job_past_the_queue_cannot_be_cancelled(api, project, bob, state, reason):
    job = make_job(project, bob, state=state)
    assert reason in refused(api, bob, job, "cancel")["message"]
    assert ImageJob.objects.get(pk=job.pk).state == state


def test_retrying_a_failed_job_queues_a_new_one_linked_to_it(api, project, bob):
    failed = make_job(project, bob, state=JobState.FAILED)
    response = api(bob).post(f"/api/v1/jobs/{failed.pk}/retry/")
    assert response.status_code == 201, response.content
    new = response.json()
    assert (new["state"], new["retry_of"], new["image_name"], new["volume_id"]) == (
        "queued",
        failed.pk,
        failed.image_name,
        failed.volume_id,
    )
    assert new["id"] != failed.pk
    assert JobEvent.objects.filter(job=failed, message=f"Retried as job {new['id']}.").exists()


def images_in_k5(k5sim) -> set[str]:
    return {image["id"] for image in k5sim.state()["images"]}


def test_a_retry_deletes_the_old_image_only_when_its_upload_is_sent(api, project, bob, k5sim):
    failed = make_job(project, bob, state=JobState.SYNC_FAILED, image_id=OLD_IMAGE)
    response = api(bob).post(f"/api/v1/jobs/{failed.pk}/retry/")
    assert response.status_code == 201, response.content
    assert OLD_IMAGE in images_in_k5(k5sim), "accepted, not yet sent: the image stays"

    k5sim.clear_requests()
    start_due_uploads(project)
    assert send_upload(response.json()["id"]) == "accepted"

    assert OLD_IMAGE not in images_in_k5(k5sim)
    calls = [(r["method"], r["path"]) for r in k5sim.requests_log() if r["method"] != "GET"]
    assert [method for method, _ in calls] == ["DELETE", "POST"], "deleted just before the upload"
    message = f"Deleted image {OLD_IMAGE} of job {failed.pk} just before sending its replacement."
    assert JobEvent.objects.filter(job=failed, message=message).exists()
    assert JobEvent.objects.filter(job_id=response.json()["id"], message=message).exists()


def test_a_retry_refused_after_the_volume_broke_leaves_the_old_image_in_k5(
    api, project, bob, k5sim
):
    failed = make_job(project, bob, state=JobState.SYNC_FAILED, image_id=OLD_IMAGE)
    k5sim.control("PATCH", f"volumes/{failed.volume_id}", json={"status": "error"})

    response = api(bob).post(f"/api/v1/jobs/{failed.pk}/retry/")

    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "volume_not_ready"
    assert OLD_IMAGE in images_in_k5(k5sim)
    assert not ImageJob.objects.filter(retry_of=failed).exists()


def test_a_cancelled_retry_leaves_the_old_image_in_k5(api, project, bob, k5sim):
    failed = make_job(project, bob, state=JobState.SYNC_FAILED, image_id=OLD_IMAGE)
    retry = api(bob).post(f"/api/v1/jobs/{failed.pk}/retry/").json()
    assert api(bob).post(f"/api/v1/jobs/{retry['id']}/cancel/").status_code == 200
    start_due_uploads(project)
    assert OLD_IMAGE in images_in_k5(k5sim)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (JobState.QUEUED, "this one is queued"),
        (JobState.SUBMITTING, "this one is submitting"),
        (JobState.UPLOADING, "this one is uploading"),
        (JobState.VERIFYING, "this one is verifying"),
        (JobState.SUCCEEDED, "this one is succeeded"),
        (JobState.CANCELLED, "this one is cancelled"),
    ],
)
def test_only_failed_jobs_can_be_retried(api, project, bob, state, reason):
    message = refused(api, bob, make_job(project, bob, state=state), "retry")["message"]
    assert "Only a failed job or one whose sync failed can be retried" in message
    assert reason in message
    assert ImageJob.objects.count() == 1


def test_a_job_is_retried_once(api, project, bob):
    failed = make_job(project, bob, state=JobState.FAILED)
    first = api(bob).post(f"/api/v1/jobs/{failed.pk}/retry/").json()
    response = api(bob).post(f"/api/v1/jobs/{failed.pk}/retry/")
    assert response.status_code == 409
    assert error_of(response)["message"] == f"This job was already retried as job {first['id']}."
    assert ImageJob.objects.count() == 2


def test_a_retry_k5_refuses_says_why_and_queues_nothing(api, project, bob, k5sim):
    failed = make_job(project, bob, state=JobState.FAILED, image_name="centos-web-01-golden")
    response = api(bob).post(f"/api/v1/jobs/{failed.pk}/retry/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "image_name_taken"
    assert ImageJob.objects.count() == 1
