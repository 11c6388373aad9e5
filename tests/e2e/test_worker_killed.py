"""A worker killed with SIGKILL around the one call that is not idempotent — the upload POST —
loses no job and creates no second image: a fresh cluster asks K5 what happened.

Only the victim cluster runs before the kill and no ticker is started in it, so what the fresh
cluster finds is exactly what the killed worker left: a job in `submitting`.
"""

import pytest

from imaging.models import EventKind, JobState, UploadAttempt
from tests.support.demo import CENTOS_WEB, UBUNTU_APP
from tests.support.jobs import state_of, submit
from tests.support.simulator import UPLOAD_ACTION
from tests.support.workers import wait_for

# The victim waits for K5's answer longer than it will live (it is killed within a second);
# not much longer, since a worker killed while signing in holds the project's sign-in lease
# for connect + read timeout + 5 s, and the fresh cluster waits that out.
VICTIM = {"K5_READ_TIMEOUT": "5"}


def a_fresh_cluster_carries_to_success(workers, job) -> None:
    workers.start("fresh")
    wait_for(
        lambda: state_of(job) == JobState.SUCCEEDED,
        kick=workers.ticker(),
        timeout=60,
        what="the fresh cluster to carry the job to succeeded",
    )


def uploads_of(sim, volume_id):
    return [p for p in sim.requests_to(UPLOAD_ACTION) if f"/volumes/{volume_id}/" in p["path"]]


@pytest.mark.django_db(transaction=True)
def test_killed_after_k5_accepted_the_upload_the_job_adopts_the_one_image(
    sim, project, bob, workers
):
    job = submit(project, bob, CENTOS_WEB, "web-golden")  # its start task waits in the queue
    sim.add_fault(
        kind="http", method="POST", path=f"/volumes/{CENTOS_WEB}/action$", delay_answer=30
    )
    victim = workers.start("victim", env=VICTIM)

    wait_for(
        lambda: sim.volume(CENTOS_WEB)["status"] == "uploading",
        timeout=30,
        what="K5 to start the upload",
    )
    victim.kill()  # K5 acted; its answer never reached the worker

    job.refresh_from_db()
    assert (job.state, job.image_id) == (JobState.SUBMITTING, "")
    assert job.submit_started_at is not None
    assert len(uploads_of(sim, CENTOS_WEB)) == 1

    a_fresh_cluster_carries_to_success(workers, job)

    images = sim.images_named("web-golden")
    assert len(images) == 1, "exactly one image"
    assert images[0]["id"] == job.image_id and images[0]["status"] == "active"
    assert len(uploads_of(sim, CENTOS_WEB)) == 1, "the upload was never sent again"
    adopted = job.events.get(
        kind=EventKind.TRANSITION, from_state="submitting", to_state="uploading"
    )
    assert "answer was lost" in adopted.message and adopted.detail["image_id"] == job.image_id
    assert list(job.upload_attempts.values_list("outcome", flat=True)) == ["accepted"]
    assert set(job.zones.values_list("status", flat=True)) == {"synced"}


@pytest.mark.django_db(transaction=True)
def test_killed_before_the_upload_left_the_job_is_sent_again_exactly_once(
    sim, project, bob, workers
):
    # The killed worker is still signing in (K5's identity is slow) when it dies: the job is
    # claimed (submit_started_at set) but the upload POST never left.
    job = submit(project, bob, UBUNTU_APP, "app-golden")
    # Short: the simulator handles the delayed sign-in when the latency is over, and that
    # should happen within this test, not in the request log of the next one.
    sim.add_fault(kind="http", method="POST", path="/auth/tokens$", latency=4)
    victim = workers.start("victim", env=VICTIM)

    def claimed_and_signing_in():
        job.refresh_from_db()
        return (
            job.submit_started_at is not None and not sim.control("GET", "faults").json()["faults"]
        )  # a fault is listed until its one use

    wait_for(claimed_and_signing_in, timeout=30, what="the worker to claim the job")
    victim.kill()
    assert uploads_of(sim, UBUNTU_APP) == []
    assert sim.volume(UBUNTU_APP)["status"] == "available"

    a_fresh_cluster_carries_to_success(workers, job)

    assert len(uploads_of(sim, UBUNTU_APP)) == 1, "sent again, exactly once"
    images = sim.images_named("app-golden")
    assert len(images) == 1 and images[0]["id"] == job.image_id
    assert (
        job.events.filter(
            kind=EventKind.TRANSITION,
            from_state="submitting",
            to_state="queued",
            message__contains="never happened",
        ).count()
        == 1
    )
    assert job.submit_attempts == 2
    assert list(job.upload_attempts.order_by("id").values_list("outcome", flat=True)) == [
        UploadAttempt.Outcome.NOT_SENT,
        UploadAttempt.Outcome.ACCEPTED,
    ]
