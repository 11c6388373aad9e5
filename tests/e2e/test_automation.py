"""The vendor's procedure done by real clusters against the simulator process: the Windows
round trip in the vendor's order (with K5 failing the first restore), a Linux server stopped
for the copy only, and workers killed with SIGKILL inside each step's K5 action — after which
a fresh cluster finishes the job without doing any K5 action twice."""

from __future__ import annotations

from datetime import datetime

import pytest

from imaging.models import JobState
from tests.support.demo import CENTOS_APP, CENTOS_APP_SERVER, WIN_APP, WIN_APP_SERVER
from tests.support.jobs import state_of, submit
from tests.support.workers import wait_for

ROUND_TRIP = "sysprep_round_trip"
STOP_START = "stop_start"
# Steps' retries and resends at test speed; a killed ticker is replaced within seconds.
FAST_STEPS = {
    "ENGINE_STEP_RETRY_SECONDS": "0.5",
    "ENGINE_STEP_RESEND_SECONDS": "2",
    "ENGINE_TICKER_LEASE_SECONDS": "3",
    "ENGINE_WATCHDOG_SECONDS": "1",
}
# A worker waiting for K5's held answer outlives the moment it is killed.
VICTIM = {**FAST_STEPS, "K5_READ_TIMEOUT": "10"}


def sent(sim, action: str) -> list[dict]:
    """K5 actions (os-stop, os-start, fcx-restore, os-volume_upload_image), in order."""
    return sorted(
        (e for e in sim.requests_log() if e.get("action") == action),
        key=lambda e: e["received_at"],
    )


def snapshot_calls(sim, method: str) -> list[dict]:
    return sorted(
        (
            e
            for e in sim.requests_log()
            if e["method"] == method
            and "/snapshots" in e["path"]
            and "/action" not in e["path"]
            and (method != "POST" or e["path"].split("?")[0].endswith("/snapshots"))
        ),
        key=lambda e: e["received_at"],
    )


def server(sim, server_id: str) -> dict:
    return sim.control("GET", f"servers/{server_id}").json()


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def when(value) -> float:
    return value if isinstance(value, int | float) else at(value)


@pytest.mark.django_db(transaction=True)
def test_a_windows_round_trip_in_the_vendors_order(sim, project, bob, workers):
    workers.start("a", env=FAST_STEPS)
    tick = workers.ticker()
    job = submit(project, bob, WIN_APP, "win-golden", automation=ROUND_TRIP)
    wait_for(
        lambda: state_of(job) == JobState.AWAITING_SHUTDOWN,
        kick=tick,
        timeout=60,
        what="the snapshot",
    )
    assert sent(sim, "os-volume_upload_image") == []
    sim.add_fault(kind="http", path="/snapshots/[^/]+/action$", action="fcx-restore", status=500)
    sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")
    wait_for(
        lambda: state_of(job) == JobState.SUCCEEDED,
        kick=tick,
        timeout=90,
        what="the round trip to end",
    )

    [snapshot_post] = snapshot_calls(sim, "POST")
    [stop] = server(sim, WIN_APP_SERVER)["stops"]
    [upload] = sent(sim, "os-volume_upload_image")
    failed_restore, restore = sent(sim, "fcx-restore")
    [start] = server(sim, WIN_APP_SERVER)["starts"]
    [start_post] = sent(sim, "os-start")
    [snapshot_delete] = snapshot_calls(sim, "DELETE")
    usable = job.events.get(to_state="finishing").created_at.timestamp()

    assert (failed_restore["status"], restore["status"]) == (500, 202)
    assert stop["by"] == "sysprep"
    # snapshot < shutdown < upload < image usable < restore < volume back < start < deleted
    assert snapshot_post["received_at"] <= when(stop["at"]) + 1  # Nova's times are seconds
    assert when(stop["at"]) <= upload["received_at"] + 1
    assert upload["received_at"] < usable < failed_restore["received_at"]
    assert (start["volume_status"], start["content"]) == ("in-use", "original")
    assert restore["received_at"] < start_post["received_at"] < snapshot_delete["received_at"]
    assert sim.state()["snapshots"] == []
    assert server(sim, WIN_APP_SERVER)["status"] == "ACTIVE"


@pytest.mark.django_db(transaction=True)
def test_a_linux_server_is_started_as_soon_as_the_copy_ends(sim, project, bob, workers):
    # A settle window long enough to tell "after the copy" from "after the zones".
    workers.start("a", env={**FAST_STEPS, "ENGINE_SYNC_SETTLE_BASE_SECONDS": "15"})
    tick = workers.ticker()
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    wait_for(lambda: state_of(job) == JobState.SUCCEEDED, kick=tick, timeout=90, what="the job")

    [stop] = sent(sim, "os-stop")
    [upload] = sent(sim, "os-volume_upload_image")
    [start] = sent(sim, "os-start")
    # When the volume went back to in-use, to the second (the simulator's state shows Nova-style
    # times): no later than the copy's end. A copy shorter than a second can end in the second
    # the upload came in: compared to the second.
    copy_ended = at(sim.volume(CENTOS_APP)["updated_at"])
    succeeded = job.events.get(to_state="succeeded").created_at.timestamp()
    assert stop["received_at"] < upload["received_at"]
    assert int(upload["received_at"]) <= copy_ended < start["received_at"]
    # One tick is 0.5 s here (and the copy's end is known to the second); a loaded machine's
    # tick takes longer, but far less than this.
    assert start["received_at"] - copy_ended < 6
    assert start["received_at"] < succeeded - 10, "not held for the zones' settle window"
    assert server(sim, CENTOS_APP_SERVER)["status"] == "ACTIVE"


def hold_answer(sim, **fault) -> None:
    """K5 does the next such call at once but holds its answer back: a worker killed
    meanwhile never hears that it acted."""
    sim.add_fault(kind="http", delay_answer=30, **fault)


def killed_once(workers, label: str, reached, what: str) -> None:
    """A cluster that carries the job until K5 has acted on `what`, then dies by SIGKILL."""
    victim = workers.start(label, env=VICTIM)
    wait_for(reached, kick=workers.ticker(), timeout=60, what=f"K5 to act on {what}")
    victim.kill()


@pytest.mark.django_db(transaction=True)
def test_workers_killed_inside_each_round_trip_step_do_no_k5_action_twice(
    sim, project, bob, workers
):
    job = submit(project, bob, WIN_APP, "win-golden", automation=ROUND_TRIP)
    hold_answer(sim, method="POST", path="/snapshots$")
    killed_once(workers, "1", lambda: len(sim.state()["snapshots"]) == 1, "the snapshot")

    hold_answer(sim, path="/snapshots/[^/]+/action$", action="fcx-restore")
    victim = workers.start("2", env=VICTIM)
    wait_for(
        lambda: state_of(job) == JobState.AWAITING_SHUTDOWN,
        kick=workers.ticker(),
        timeout=60,
        what="the wait for Sysprep",
    )
    sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")
    wait_for(
        lambda: len(sent(sim, "fcx-restore")) == 1,
        kick=workers.ticker(),
        timeout=60,
        what="K5 to act on the restore",
    )
    victim.kill()

    hold_answer(sim, path="/servers/[^/]+/action$", action="os-start")
    killed_once(workers, "3", lambda: len(sent(sim, "os-start")) == 1, "the start")
    hold_answer(sim, method="DELETE", path="/snapshots/[^/]+$")
    killed_once(
        workers, "4", lambda: len(snapshot_calls(sim, "DELETE")) == 1, "the snapshot's deletion"
    )
    workers.start("5", env=FAST_STEPS)
    wait_for(
        lambda: state_of(job) == JobState.SUCCEEDED,
        kick=workers.ticker(),
        timeout=60,
        what="the round trip to end",
    )

    assert len(snapshot_calls(sim, "POST")) == 1
    assert len(sent(sim, "os-volume_upload_image")) == 1
    assert len(sent(sim, "fcx-restore")) == 1
    assert len(sent(sim, "os-start")) == 1
    assert len(snapshot_calls(sim, "DELETE")) == 1
    [start] = server(sim, WIN_APP_SERVER)["starts"]
    assert start["content"] == "original"
    assert sim.state()["snapshots"] == []
    assert set(job.steps.values_list("state", flat=True)) == {"done"}


@pytest.mark.django_db(transaction=True)
def test_workers_killed_inside_a_stop_and_a_start_do_neither_twice(sim, project, bob, workers):
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    hold_answer(sim, path="/servers/[^/]+/action$", action="os-stop")
    killed_once(workers, "1", lambda: len(sent(sim, "os-stop")) == 1, "the stop")
    hold_answer(sim, path="/servers/[^/]+/action$", action="os-start")
    killed_once(workers, "2", lambda: len(sent(sim, "os-start")) == 1, "the start")
    workers.start("3", env=FAST_STEPS)
    wait_for(
        lambda: (
            state_of(job) == JobState.SUCCEEDED
            and job.steps.get(name="start_server").state == "done"
        ),
        kick=workers.ticker(),
        timeout=60,
        what="the job and its start to end",
    )

    assert len(sent(sim, "os-stop")) == 1
    assert len(sent(sim, "os-start")) == 1
    assert len(sent(sim, "os-volume_upload_image")) == 1
    assert server(sim, CENTOS_APP_SERVER)["status"] == "ACTIVE"
