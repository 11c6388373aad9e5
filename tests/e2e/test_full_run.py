"""From the request to an image usable in every zone, carried by two real clusters; a sync
failure in one zone, and the vendor's remedy (delete the image, create it again)."""

import pytest

from imaging.engine.remedy import retry_job
from imaging.models import JobState, SyncStatus
from tests.support.demo import CENTOS_WEB, UBUNTU_APP, ZONE_B_SERVER
from tests.support.jobs import FINISHED, state_of, submit
from tests.support.workers import wait_for


def zones(job):
    return {z.availability_zone: (z.role, z.status, z.reason) for z in job.zones.all()}


@pytest.mark.django_db(transaction=True)
def test_jobs_succeed_in_every_zone_and_a_sync_failure_is_remedied(sim, project, bob, workers):
    workers.start("a")
    workers.start("b")
    tick = workers.ticker()

    job = submit(project, bob, CENTOS_WEB, "web-golden")
    wait_for(lambda: state_of(job) in FINISHED, kick=tick, timeout=60, what="the first job")

    assert job.state == JobState.SUCCEEDED
    assert zones(job) == {
        "jp-east-1a": ("source", SyncStatus.SYNCED, ""),
        "jp-east-1b": ("replica", SyncStatus.SYNCED, ""),
    }
    [image] = sim.images_named("web-golden")
    assert (image["id"], image["status"]) == (job.image_id, "active")
    assert image["zone_sync"]["jp-east-1b"]["status"] == "registered"
    assert "sync_status_reason" not in image["properties"]

    sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    broken = submit(project, bob, UBUNTU_APP, "app-golden")
    wait_for(
        lambda: state_of(broken) in FINISHED,
        kick=tick,
        timeout=60,
        what="the job whose zone sync fails",
    )

    assert broken.state == JobState.SYNC_FAILED
    [unusable] = sim.images_named("app-golden")
    reason = unusable["properties"]["sync_status_reason"]
    assert reason == (
        "ERROR:A timeout occurred during synchronize image the "
        f"server({ZONE_B_SERVER}) in the image operation. "
        f"image_id={broken.image_id}"
    )
    assert zones(broken) == {
        "jp-east-1a": ("source", SyncStatus.SYNCED, ""),
        "jp-east-1b": ("replica", SyncStatus.FAILED, reason),
    }
    assert "availability zone jp-east-1b" in broken.error_message

    retry = retry_job(broken, bob, channel="web")
    assert [image["id"] for image in sim.images_named("app-golden")] == [broken.image_id], (
        "kept until the retry's upload is sent"
    )
    wait_for(lambda: state_of(retry) in FINISHED, kick=tick, timeout=60, what="the retry")

    assert retry.state == JobState.SUCCEEDED
    assert retry.retry_of_id == broken.pk
    assert (retry.volume_id, retry.image_name) == (UBUNTU_APP, "app-golden")
    assert {status for _, status, _ in zones(retry).values()} == {SyncStatus.SYNCED}
    [usable] = sim.images_named("app-golden")
    assert usable["id"] == retry.image_id != broken.image_id
    assert "sync_status_reason" not in usable["properties"]
    assert zones(broken)["jp-east-1b"][1] == SyncStatus.FAILED, "kept for history"
