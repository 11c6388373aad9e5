"""GET /jobs/{id}/retry/ says, before anything is queued, what a retry does with the old job's
image; POST answers the same decision. Only an image that is not usable is deleted, and only
just before the new upload is sent, after K5 is asked again."""

from __future__ import annotations

import pytest

from imaging.engine.connections import client_for
from imaging.engine.pacing import start_due_uploads
from imaging.engine.upload import send_upload
from imaging.k5 import blockstorage
from imaging.models import ImageJob, JobEvent, JobState
from tests.api.client import error_of
from tests.support.demo import DATA_SMALL, OLD_IMAGE
from tests.support.jobs import make_job
from tests.support.old_images import (
    KILLED,
    NAMES,
    SAVING,
    SYNC_BROKEN,
    USABLE,
    images_in_k5,
    seed_old_images,
)


@pytest.fixture
def old_images(k5sim):
    seed_old_images(k5sim)


def send(project, job_id: int) -> str:
    start_due_uploads(project)
    return send_upload(job_id)


def retry_path(job) -> str:
    return f"/api/v1/jobs/{job.pk}/retry/"


def test_a_usable_image_is_kept_and_the_retry_is_told_to_use_another_name(
    old_images, k5sim, api, project, bob
):
    failed = make_job(project, bob, state=JobState.FAILED, image_id=USABLE)

    preview = api(bob).get(retry_path(failed))
    assert preview.status_code == 200, preview.content
    kept = {"id": USABLE, "name": "web-golden", "status": "active", "usable": True}
    assert preview.json() == {
        "replaces_image": {**kept, "action": "keep"},
        "message": "Image web-golden (active, usable) will be kept; give the new image another "
        "name.",
        "image_name": None,
    }

    same_name = api(bob).post(retry_path(failed))
    assert same_name.status_code == 409
    error = error_of(same_name)
    assert error["code"] == "image_name_taken"
    assert error["message"] == (
        f"Image {USABLE} of job {failed.pk} is active, usable, so the retry keeps it, and it "
        "holds the name 'web-golden': give the new image another name."
    )
    assert not ImageJob.objects.filter(retry_of=failed).exists()

    response = api(bob).post(retry_path(failed), {"image_name": "web-golden-2"})
    assert response.status_code == 201, response.content
    retry = response.json()
    assert retry["replaces_image"] == {**kept, "action": "keep"}
    assert retry["image_name"] == "web-golden-2"

    assert send(project, retry["id"]) == "accepted"
    assert USABLE in images_in_k5(k5sim)
    kept_message = f"Kept image {USABLE} of job {failed.pk}: it is active, usable in K5."
    assert JobEvent.objects.filter(job=failed, message=kept_message).exists()
    assert JobEvent.objects.filter(job_id=retry["id"], message=kept_message).exists()


@pytest.mark.parametrize(
    ("state", "image_id", "status"),
    [
        (JobState.SYNC_FAILED, OLD_IMAGE, "active"),  # K5 shows no reason, the job saw one
        (JobState.FAILED, SYNC_BROKEN, "active"),
        (JobState.FAILED, SAVING, "saving"),
        (JobState.FAILED, KILLED, "killed"),
    ],
)
def test_an_image_that_is_not_usable_is_deleted_just_before_the_new_upload(
    old_images, k5sim, api, project, bob, state, image_id, status
):
    name = NAMES.get(image_id, "ubuntu-app-01-old")
    failed = make_job(project, bob, state=state, image_id=image_id, image_name=name)

    preview = api(bob).get(retry_path(failed)).json()
    assert preview["replaces_image"]["action"] == "delete"
    assert preview["image_name"] == name
    assert "will be deleted just before the new upload is sent" in preview["message"]
    response = api(bob).post(retry_path(failed))
    assert response.status_code == 201, response.content
    assert response.json()["replaces_image"]["status"] == status
    assert response.json()["replaces_image"]["action"] == "delete"
    assert image_id in images_in_k5(k5sim), "nothing is deleted before the upload is sent"

    assert send(project, response.json()["id"]) == "accepted"

    assert image_id not in images_in_k5(k5sim)
    deleted = f"Deleted image {image_id} of job {failed.pk} just before sending its replacement."
    assert JobEvent.objects.filter(job=failed, message=deleted).exists()


def test_an_image_that_became_usable_after_the_retry_was_asked_for_is_kept(
    k5sim, api, project, bob
):
    # A job failed as stuck while its image was saving; K5 finishes the copy after the retry.
    accepted = blockstorage.volume_upload_to_image(client_for(project), DATA_SMALL, "late")
    k5sim.advance(10)
    failed = make_job(
        project, bob, state=JobState.FAILED, image_id=accepted.image_id, image_name="late"
    )
    retry = api(bob).post(retry_path(failed)).json()
    assert (retry["replaces_image"]["status"], retry["replaces_image"]["action"]) == (
        "saving",
        "delete",
    )
    k5sim.advance(120)  # the 1 GB copy ends: active

    outcome = send(project, retry["id"])

    assert outcome == "not sent: the image it replaces is usable and holds the name"
    assert accepted.image_id in images_in_k5(k5sim)
    job = ImageJob.objects.get(pk=retry["id"])
    assert job.state == JobState.FAILED
    assert "became usable after this retry was asked for" in job.error_message
    assert "retry with another name" in job.error_message


def test_an_image_k5_no_longer_has_is_not_mentioned(k5sim, api, project, bob):
    failed = make_job(project, bob, state=JobState.FAILED, image_id="gone-already")

    preview = api(bob).get(retry_path(failed)).json()

    assert preview["replaces_image"] is None
    assert preview["message"] == "K5 holds no image of this job: nothing will be deleted."
    assert api(bob).post(retry_path(failed)).json()["replaces_image"] is None
