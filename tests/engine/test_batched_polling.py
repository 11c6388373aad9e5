"""1,000 uploads in 20 projects are followed with two K5 listings per project per tick.

The proof comes from the simulator's request log, not from the engine's own account: after
every tick, the only calls K5 received were one volume listing and one image listing per
project (every page counted), none about a single volume or image, and the jobs still ended.
Timing is the benchmark's business (benchmarks/engine_polling.py); this test counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from imaging.engine.polling import poll_project
from imaging.engine.tick import tick
from imaging.models import (
    ImageJob,
    JobState,
    Membership,
    Role,
    SyncRole,
    UploadAttempt,
    ZoneSyncResult,
)
from tests.support.cast import make_user
from tests.support.fleet import (
    LISTING_TEMPLATES,
    bind_projects,
    calls_by_project,
    calls_within,
    k5_window,
    send_uploads,
    start_fleet_simulator,
    submit_jobs,
)

PROJECTS = 20
JOBS_PER_PROJECT = 50
# Five sizes, so that uploads end over several ticks and a tick meets jobs in every state:
# K5 takes 60 s + 12 s per GB (the simulator's defaults), i.e. 72 s to 120 s here.
SIZES = [1, 2, 3, 4, 5] * (JOBS_PER_PROJECT // 5)
TICK_K5_SECONDS = 15
PER_JOB_TEMPLATES = frozenset(
    {
        "GET /blockstorage/v2/{project_id}/volumes/{volume_id}",
        "GET /image/v2/images/{image_id}",
    }
)


@pytest.fixture(scope="module")
def k5sim_process(tmp_path_factory):
    """This module's own simulator, on the fleet scenario (`k5sim` resets it to that): the
    shared one is reset to the demo scenario by every other test. 100 uploads a project per
    window, so that K5 accepts all 50 at once."""
    sim = start_fleet_simulator(tmp_path_factory.mktemp("fleet"), PROJECTS, upload_limit=100)
    yield sim
    sim.stop()


@pytest.mark.django_db
def test_it_follows_1000_uploads_in_20_projects_with_two_listings_per_project_per_tick(
    k5sim, settings
):
    # The settle window is portal wall time, which this test does not move (it moves K5's
    # clock): without it, a job leaves `verifying` on the tick after its image is active.
    # Watching sync_status_reason over the window is test_lifecycle's subject.
    settings.ENGINE_SYNC_SETTLE_BASE_SECONDS = settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB = 0
    bob = make_user("bob")
    fleet = bind_projects(k5sim, [SIZES] * PROJECTS, upload_limit=100)
    for member in fleet:
        Membership.objects.create(user=bob, project=member.project, role=Role.MEMBER)
    job_ids = submit_jobs(fleet, bob)
    assert len(job_ids) == PROJECTS * JOBS_PER_PROJECT == 1000

    assert send_uploads(fleet) == {"accepted": 1000}
    running = [u for u in k5sim.state()["uploads"] if u["state"] == "running"]
    assert len(running) == 1000, "K5 has every upload in flight"
    assert UploadAttempt.objects.filter(outcome="accepted").count() == 1000

    k5sim.clear_requests()
    windows = []  # the K5-time span of each tick, to pick its calls from the request log
    states_seen: list[Counter] = []
    for _tick in range(30):
        with k5_window(k5sim) as window:
            report = tick()
        windows.append(window)
        assert not report.errors
        states = Counter(ImageJob.objects.values_list("state", flat=True))
        states_seen.append(states)
        if states == {JobState.SUCCEEDED: 1000}:
            break
        k5sim.advance(TICK_K5_SECONDS)

    assert states_seen[-1] == {JobState.SUCCEEDED: 1000}, states_seen
    # The uploads did not all end at once: some ticks met uploading, verifying and
    # succeeded jobs side by side (and the counts below hold for those ticks too).
    assert any(len(states) == 3 for states in states_seen), states_seen
    assert all(u["state"] == "succeeded" for u in k5sim.state()["uploads"])

    log = k5sim.requests_log()
    per_tick = [calls_within(log, window) for window in windows]
    assert sum(len(calls) for calls in per_tick) == len(log), "K5 was called between ticks"
    k5_ids = {member.project.k5_project_id for member in fleet}
    for n, calls in enumerate(per_tick, start=1):
        by_project = calls_by_project(calls)
        assert set(by_project) <= k5_ids, f"tick {n}: calls outside the fleet: {by_project}"
        for k5_id, counts in by_project.items():
            assert set(counts) <= LISTING_TEMPLATES, f"tick {n}, {k5_id}: {counts}"
            assert sum(counts.values()) <= 2, f"tick {n}, {k5_id}: more than 2 calls: {counts}"
            assert not set(counts) & PER_JOB_TEMPLATES


@pytest.mark.django_db
def test_polling_a_project_costs_as_many_queries_for_40_jobs_as_for_2(k5sim):
    bob = make_user("bob")
    small, big = bind_projects(k5sim, [[1] * 2, [1] * 40], upload_limit=100)
    for member in (small, big):
        Membership.objects.create(user=bob, project=member.project, role=Role.MEMBER)
    submit_jobs([small, big], bob)
    assert send_uploads([small, big]) == {"accepted": 42}

    def queries(member, now):
        with CaptureQueriesContext(connection) as captured:
            result = poll_project(member.project, now=now)
        assert not result.error
        return len(captured)

    now = timezone.now()
    assert queries(small, now) == queries(big, now), "uploading: no query per job"

    k5sim.advance(60 + 12 + 5)  # K5 ends the 1 GB uploads
    poll_project(small.project)
    poll_project(big.project)
    assert set(ImageJob.objects.values_list("state", flat=True)) == {JobState.VERIFYING}

    later = timezone.now() + timedelta(seconds=30)  # inside the settle window
    assert queries(small, later) == queries(big, later), "verifying: no query per job"
    assert set(ImageJob.objects.values_list("state", flat=True)) == {JobState.VERIFYING}
    replicas = ZoneSyncResult.objects.filter(role=SyncRole.REPLICA)
    assert replicas.count() == 42
    assert set(replicas.values_list("checked_at", flat=True)) == {later}, (
        "every replica zone still watched is recorded as checked"
    )
