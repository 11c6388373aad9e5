"""The retry page: before bob confirms, it says what happens to the old job's image in K5 —
kept when usable (then the new image needs another name), deleted just before the new upload
is sent when not."""

from __future__ import annotations

import pytest

from imaging.engine.pacing import start_due_uploads
from imaging.engine.upload import send_upload
from imaging.models import ImageJob, JobState
from tests.support.jobs import make_job
from tests.support.old_images import NAMES, SAVING, USABLE, images_in_k5, seed_old_images
from tests.web.page import page


@pytest.fixture
def old_images(k5sim):
    seed_old_images(k5sim)


def retry_page(client, job):
    return page(client, f"/jobs/{job.pk}/retry/")


def test_the_job_page_leads_to_the_retry_page_without_acting(signed_in, project, bob):
    failed = make_job(project, bob, state=JobState.FAILED)
    view = page(signed_in(bob), f"/jobs/{failed.pk}/")

    form = view.main.one("form", action=f"/jobs/{failed.pk}/retry/")

    assert form.attrs["method"] == "get" and form.one("button").text == "Retry"


def test_a_usable_image_is_kept_and_bob_names_the_new_one(
    old_images, k5sim, signed_in, project, bob
):
    failed = make_job(project, bob, state=JobState.FAILED, image_id=USABLE)
    client = signed_in(bob)

    view = retry_page(client, failed)
    assert view.main.one(id_="retry-consequence").text == (
        "Image web-golden (active, usable) will be kept; give the new image another name."
    )
    assert view.main.one("input", name="image_name").attrs["value"] == ""
    assert view.main.one("button", type="submit").text == "Retry"

    refused = client.post(f"/jobs/{failed.pk}/retry/", {"image_name": "web-golden"})
    assert refused["Location"] == f"/jobs/{failed.pk}/retry/"
    assert (
        f"Image {USABLE} of job {failed.pk} is active, usable, so the retry keeps it, and it "
        "holds the name 'web-golden': give the new image another name."
    ) in retry_page(client, failed).messages
    assert not ImageJob.objects.filter(retry_of=failed).exists()

    response = client.post(f"/jobs/{failed.pk}/retry/", {"image_name": "web-golden-2"})
    retry = ImageJob.objects.get(retry_of=failed)
    assert retry.image_name == "web-golden-2"
    assert page(client, response["Location"]).messages == [
        f"Retrying as job {retry.pk}; the old image {USABLE} (active, usable) is kept."
    ]
    start_due_uploads(project)
    assert send_upload(retry.pk) == "accepted"
    assert USABLE in images_in_k5(k5sim)


def test_a_saving_image_is_announced_as_deleted_and_is_deleted_when_the_upload_leaves(
    old_images, k5sim, signed_in, project, bob
):
    failed = make_job(
        project, bob, state=JobState.FAILED, image_id=SAVING, image_name=NAMES[SAVING]
    )
    client = signed_in(bob)

    view = retry_page(client, failed)
    assert view.main.one(id_="retry-consequence").text == (
        "Image saving-one (saving) will be deleted just before the new upload is sent."
    )
    assert view.main.one("input", name="image_name").attrs["value"] == "saving-one"
    assert view.main.one("button", type="submit").text == "Delete the image and create it again"

    client.post(f"/jobs/{failed.pk}/retry/", {"image_name": "saving-one"})
    retry = ImageJob.objects.get(retry_of=failed)
    assert SAVING in images_in_k5(k5sim), "kept until the new upload is sent"
    start_due_uploads(project)
    assert send_upload(retry.pk) == "accepted"
    assert SAVING not in images_in_k5(k5sim)


def test_a_job_that_cannot_be_retried_sends_bob_back_with_the_reason(signed_in, project, bob):
    running = make_job(project, bob, state=JobState.UPLOADING)
    client = signed_in(bob)

    response = client.get(f"/jobs/{running.pk}/retry/")

    assert response["Location"] == f"/jobs/{running.pk}/"
    assert page(client, response["Location"]).messages == [
        "Only a failed job or one whose sync failed can be retried; this one is uploading."
    ]
