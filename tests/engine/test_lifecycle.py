"""A job from request to an image usable in every zone — and each way it can fail."""

import pytest
from django.conf import settings

from imaging.engine.remedy import retry_job
from imaging.models import EventKind, JobState, SyncStatus
from tests.support.demo import CENTOS_WEB, ZONE_B_SERVER
from tests.support.jobs import poll, run_to_uploading, submit

UPLOAD_SECONDS = 60 + 12 * 30  # the simulator's base + per-GB time for the 30 GB volume
# The settle window of the 30 GB image (base + per GB).
SETTLE = settings.ENGINE_SYNC_SETTLE_BASE_SECONDS + 30 * settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB


def zones(job):
    return {z.availability_zone: (z.role, z.status, z.reason) for z in job.zones.all()}


def sim_image(k5sim, image_id):
    return next((i for i in k5sim.state()["images"] if i["id"] == image_id), None)


def through_upload_and_sync(k5sim, project, job, *, later: float = 0):
    """Send the upload, let K5 copy the volume and register the image in the other zone,
    polling after each; the job as the engine then leaves it."""
    job = run_to_uploading(project, job)
    k5sim.advance(UPLOAD_SECONDS + 10)
    poll(project)
    k5sim.advance(200)  # registration to the other zone takes 120 s
    poll(project, later=later)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_it_follows_a_job_until_the_image_is_active_and_in_every_zone(k5sim, project, bob):
    job = submit(project, bob)
    assert job.state == JobState.QUEUED
    assert zones(job) == {
        "jp-east-1a": ("source", "pending", ""),
        "jp-east-1b": ("replica", "pending", ""),
    }

    job = run_to_uploading(project, job)
    assert job.state == JobState.UPLOADING
    assert sim_image(k5sim, job.image_id)["name"] == "web-golden"

    k5sim.advance(UPLOAD_SECONDS - 30)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.UPLOADING  # K5 is still copying

    k5sim.advance(40)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.VERIFYING
    assert zones(job)["jp-east-1a"][1] == SyncStatus.SYNCED

    k5sim.advance(200)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.VERIFYING  # still inside the settle window
    poll(project, later=SETTLE + 1)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert {status for _, status, _ in zones(job).values()} == {"synced"}
    transitions = [(e.from_state, e.to_state) for e in job.events.filter(kind=EventKind.TRANSITION)]
    assert transitions == [
        ("queued", "submitting"),
        ("submitting", "uploading"),
        ("uploading", "verifying"),
        ("verifying", "succeeded"),
    ]
    post = job.events.get(kind=EventKind.K5_CALL)
    assert post.detail["method"] == "POST" and post.detail["status"] == 202
    assert post.detail["request_id"].startswith("req-")


@pytest.mark.django_db
def test_a_sync_failure_pinpoints_the_zone_and_the_remedy_makes_a_usable_image(k5sim, project, bob):
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    job = through_upload_and_sync(k5sim, project, submit(project, bob))
    assert job.state == JobState.SYNC_FAILED
    role, status, reason = zones(job)["jp-east-1b"]
    assert (role, status) == ("replica", "failed")
    assert reason.startswith("ERROR:") and ZONE_B_SERVER in reason and job.image_id in reason
    assert zones(job)["jp-east-1a"][1] == "synced"
    assert "registering it to availability zone jp-east-1b failed" in job.error_message

    retry = retry_job(job, bob, channel="web")
    assert sim_image(k5sim, job.image_id) is not None, "kept until the new upload is sent"
    assert retry.retry_of == job and retry.state == JobState.QUEUED
    assert (retry.volume_id, retry.image_name, retry.force) == (CENTOS_WEB, "web-golden", False)

    retry = through_upload_and_sync(k5sim, project, retry, later=SETTLE + 1)
    assert sim_image(k5sim, job.image_id) is None, "deleted just before the new upload was sent"
    assert job.events.filter(message__startswith="Deleted image").exists()
    assert retry.state == JobState.SUCCEEDED
    job.refresh_from_db()
    assert zones(job)["jp-east-1b"][1] == "failed", "the old result is kept for history"


@pytest.mark.django_db
def test_without_a_server_map_every_replica_zone_is_marked_failed(k5sim, project, bob):
    project.sync_server_zones = {}
    project.save()
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    job = through_upload_and_sync(k5sim, project, submit(project, bob))
    assert job.state == JobState.SYNC_FAILED
    assert zones(job)["jp-east-1b"][1] == "failed"
    assert "another availability zone" in job.error_message


@pytest.mark.django_db
def test_an_upload_that_k5_kills_fails_in_plain_words_and_its_image_is_removed(k5sim, project, bob):
    k5sim.add_fault(kind="upload_failure", volume_id=CENTOS_WEB)
    job = run_to_uploading(project, submit(project, bob))
    k5sim.advance(UPLOAD_SECONDS + 10)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message == "K5 could not create the image: it ended killed."
    assert sim_image(k5sim, job.image_id) is None
    assert job.events.filter(message__startswith="Deleted the leftover killed image").exists()


@pytest.mark.django_db
def test_a_volume_deleted_mid_upload_fails_the_job(k5sim, project, bob):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.control("DELETE", f"volumes/{CENTOS_WEB}")
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message == "The volume was deleted while the image was being created."


@pytest.mark.django_db
def test_a_job_running_far_beyond_its_expected_time_fails_as_stuck_without_touching_k5(
    k5sim, project, bob
):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.clear_requests()
    poll(project, later=settings.ENGINE_STUCK_FACTOR * job.expected_seconds + 60)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message.startswith("The upload looks stuck")
    assert "image_status=" in job.error_detail and "volume_status=uploading" in job.error_detail
    assert not [r for r in k5sim.requests_log() if r["method"] != "GET" and "auth" not in r["path"]]
