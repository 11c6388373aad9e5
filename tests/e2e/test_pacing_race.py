"""K5 lets a project start 4 uploads an hour: two clusters racing to take slots never send a
fifth within the window, and jobs start in the order they were requested."""

import itertools

import pytest
from django_q.models import Task

from imaging.models import EventKind, ImageJob, JobEvent, JobState, UploadAttempt
from tests.support.jobs import submit
from tests.support.simulator import UPLOAD_ACTION
from tests.support.workers import wait_for

JOBS = 20
LIMIT = 4


@pytest.mark.django_db(transaction=True)
def test_twenty_jobs_start_at_most_four_per_window_with_two_clusters_racing(
    sim, project, bob, workers
):
    volumes = sim.control(
        "POST",
        f"projects/{project.k5_project_id}/volumes",
        json={"count": JOBS, "size": 1, "os": "centos", "availability_zone": "jp-east-1a"},
    ).json()["ids"]
    jobs = [
        submit(project, bob, volume_id, f"batch-{n:02d}")
        for n, volume_id in enumerate(volumes, start=1)
    ]
    sim.clear_requests()
    window = project.upload_window_seconds  # K5's hour at the simulator's speed

    first, second = workers.start("a"), workers.start("b")
    tick = workers.ticker()

    def race():
        # The ticker takes slots every tick; on top of it, flood both clusters with the
        # start_uploads task every submission enqueues, so that at each slot boundary the
        # pacing decision is taken concurrently in several worker processes of both clusters.
        tick()
        for _ in range(4):
            workers.enqueue("imaging.tasks.start_uploads", project.pk)

    wait_for(
        lambda: ImageJob.objects.filter(project=project, state=JobState.SUCCEEDED).count() == JOBS,
        kick=race,
        every=0.25,
        timeout=(JOBS // LIMIT) * window + 60,
        what=f"all {JOBS} jobs to succeed",
    )

    # What K5 saw: one upload per job, never refused, never more than 4 in a window.
    posts = sim.requests_to(UPLOAD_ACTION)
    assert [p["status"] for p in posts] == [202] * JOBS
    assert not [e for e in sim.requests_log() if e["status"] == 413]
    arrivals = [p["received_at"] for p in posts]
    shown = [round(t - arrivals[0], 2) for t in arrivals]
    for n in range(LIMIT, JOBS):
        assert arrivals[n] - arrivals[n - LIMIT] >= window, (
            f"uploads {n - LIMIT + 1}..{n + 1} within {window} s: {shown}"
        )

    # In the order they were requested: batch by batch at K5, slot by slot in the portal.
    position = {volume_id: n for n, volume_id in enumerate(volumes)}
    batches = [position[p["path"].split("/volumes/")[1].split("/")[0]] // LIMIT for p in posts]
    assert batches == [n // LIMIT for n in range(JOBS)], shown
    slot_taken = {}
    for event in JobEvent.objects.filter(
        kind=EventKind.TRANSITION, from_state="queued", to_state="submitting"
    ).order_by("pk"):
        slot_taken.setdefault(event.job_id, event.pk)
    order = [slot_taken[job.pk] for job in jobs]
    assert order == sorted(order)
    assert set(UploadAttempt.objects.values_list("outcome", flat=True)) == {"accepted"}

    # The race was real: both clusters took pacing decisions, some of them at the same time.
    assert first.processed("imaging.tasks.start_uploads") > 0
    assert second.processed("imaging.tasks.start_uploads") > 0
    runs = sorted(
        Task.objects.filter(func="imaging.tasks.start_uploads").values_list("started", "stopped")
    )
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(runs))
