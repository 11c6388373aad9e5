"""Projects are polled at once, each within a deadline of its own; one project's polling
stays serial (its lease, two listings, the decisions in the tick's thread).

Overlap is read from the simulator's request log (when each listing arrived and how long K5
took), never from the test's clock. The tests commit (transactional_db): the poll threads have
database connections of their own, which would not see an open test transaction.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from imaging.engine.poller import Poller
from imaging.engine.tick import collect, tick
from imaging.models import EngineLease, ImageJob, JobState, Membership, Role
from tests.support.fleet import (
    LISTING_TEMPLATES,
    bind_projects,
    calls_by_project,
    send_uploads,
    start_fleet_simulator,
    submit_jobs,
)
from tests.support.workers import wait_for

PROJECTS = 6
VOLUMES = "GET /blockstorage/v2/{project_id}/volumes/detail"


@pytest.fixture(scope="module")
def fleet_process(tmp_path_factory):
    # Its own simulator: the shared one is reset to the demo scenario by every other test.
    sim = start_fleet_simulator(tmp_path_factory.mktemp("fleet"), PROJECTS, upload_limit=10)
    yield sim
    sim.stop()


@pytest.fixture
def fleet(fleet_process, transactional_db):
    """Six projects, two 1 GB uploads in flight in each (K5: 72 s each, at speed 1)."""
    fleet_process.reset()
    bob = User.objects.create_user("bob", password="bob-pw-1")
    members = bind_projects(fleet_process, [[1, 1]] * PROJECTS, upload_limit=10)
    for member in members:
        Membership.objects.create(user=bob, project=member.project, role=Role.MEMBER)
    submit_jobs(members, bob)
    assert send_uploads(members) == {"accepted": 2 * PROJECTS}
    tick()  # every client signed in and every project polled once: the tests count from here
    fleet_process.clear_requests()
    return members


def slow_down(sim, seconds: float, k5_project_id: str = "") -> None:
    """Every volume listing (of one project, if given) answers `seconds` late."""
    sim.add_fault(
        kind="http",
        method="GET",
        path=f"/{k5_project_id or '[^/]+'}/volumes/detail$",
        latency=seconds,
        times=None,
    )


def listings(sim, template: str = VOLUMES) -> list[dict]:
    method, path = template.split(" ", 1)
    return [e for e in sim.requests_log() if (e["method"], e["template"]) == (method, path)]


def most_at_once(calls: list[dict]) -> int:
    """The most calls K5 was working on at the same moment, by its own log."""
    edges = []
    for call in calls:
        edges += [(call["received_at"], 1), (call["received_at"] + call["duration_ms"] / 1000, -1)]
    busy = peak = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        busy += step
        peak = max(peak, busy)
    return peak


def states() -> Counter:
    return Counter(ImageJob.objects.values_list("state", flat=True))


def test_it_polls_the_projects_at_once_with_two_listings_each(fleet, fleet_process, settings):
    slow_down(fleet_process, 1.5)
    fleet_process.advance(60 + 12 + 5)  # K5 ends every upload

    report = tick()

    assert (report.projects, report.polled, report.errors) == (PROJECTS, PROJECTS, {})
    assert states() == {JobState.VERIFYING: 2 * PROJECTS}
    calls = listings(fleet_process)
    assert len(calls) == PROJECTS
    assert most_at_once(calls) >= 3, "the slow listings were waited for side by side"
    for k5_id, counts in calls_by_project(fleet_process.requests_log()).items():
        assert set(counts) <= LISTING_TEMPLATES and sum(counts.values()) == 2, (k5_id, counts)


def test_a_project_slower_than_its_deadline_holds_up_no_other(fleet, fleet_process, settings):
    settings.ENGINE_POLL_DEADLINE_SECONDS = 1
    slow = fleet[0].project
    slow_down(fleet_process, 4, slow.k5_project_id)
    fleet_process.advance(60 + 12 + 5)

    report = tick()

    assert report.polled == PROJECTS
    assert list(report.errors) == [slow.name]
    assert "did not answer within the 1 s" in report.errors[slow.name]
    assert set(ImageJob.objects.filter(project=slow).values_list("state", flat=True)) == {
        JobState.UPLOADING
    }, "nothing is decided without the lists"
    assert states()[JobState.VERIFYING] == 2 * (PROJECTS - 1)
    assert not EngineLease.objects.filter(
        name=f"project:{slow.pk}", holder__isnull=False, expires_at__gt=timezone.now()
    ).exists(), "its lease was released"
    # K5 logs the slow listing when it answers it, after the client gave up.
    slow_calls = wait_for(
        lambda: calls_by_project(fleet_process.requests_log()).get(slow.k5_project_id),
        timeout=30,
        what="K5 to log the slow listing",
    )
    assert slow_calls == {VOLUMES: 1}, "given up after the first listing, not retried"


def test_a_round_leaves_a_slow_project_in_flight_and_the_next_does_not_ask_again(
    fleet, fleet_process
):
    slow = fleet[0].project
    slow_down(fleet_process, 4, slow.k5_project_id)
    poller = Poller()
    try:
        first = tick(poller, until=time.monotonic())  # a ticker's round that ends at once
        assert slow.pk in poller.pending
        second = tick(poller, until=time.monotonic())
        assert slow.pk in poller.pending
        assert second.still_polling >= 1, "the slow project is skipped, not asked again"
        report = first
        collect(poller, report, until=None)  # what the ticker does before it hands over
    finally:
        poller.close()

    assert first.projects == PROJECTS and not report.errors
    assert not poller.pending
    calls = calls_by_project(fleet_process.requests_log())
    assert calls[slow.k5_project_id] == dict.fromkeys(LISTING_TEMPLATES, 1)
