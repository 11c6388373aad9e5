"""The vendor's procedure done by the portal, step by step against the simulator: the Windows
round trip (snapshot, Sysprep's shutdown, upload, restore, start, delete), stop/start for a
running Linux server, what happens when K5 refuses or fails a step, and after a job ends."""

from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.engine import automation
from imaging.engine.errors import Refusal
from imaging.engine.pacing import start_due_uploads
from imaging.engine.polling import poll_project
from imaging.engine.remedy import cancel_job, retry_job
from imaging.engine.upload import send_upload
from imaging.models import EventKind, ImageJob, JobState, UploadAttempt
from tests.support.demo import (
    CENTOS_APP,
    CENTOS_APP_SERVER,
    CENTOS_WEB,
    WIN_AD,
    WIN_APP,
    WIN_APP_SERVER,
)
from tests.support.jobs import submit

ROUND_TRIP = "sysprep_round_trip"
STOP_START = "stop_start"


@pytest.fixture
def project(project):
    """No settle window: a verified image is usable at the next look (the window has tests
    of its own)."""
    project.sync_settle_base_seconds = 0
    project.sync_settle_seconds_per_gb = 0
    project.save()
    return project


def engine_round(project, *, later: float = 0) -> None:
    """What a tick does for one project, with the tasks it enqueues run at once: start due
    uploads, send them, apply the lists, then move automated jobs on."""
    now = timezone.now() + timedelta(seconds=later)
    start_due_uploads(project, now)
    for job in ImageJob.objects.filter(
        project=project, state=JobState.SUBMITTING, submit_started_at__isnull=True
    ):
        send_upload(job.pk)
    poll_project(project, now=now)
    automation.advance_project(project, now=now)


def run_until(
    project,
    k5sim,
    done,
    *,
    step: float = 10,
    limit: int = 400,
    later: float = 0,
    portal_clock_moves: bool = False,
):
    """Engine rounds, K5 `step` seconds apart, until `done()`; the number of rounds taken.
    The portal's clock is `later` seconds ahead — moving `step` a round too, if
    `portal_clock_moves` (for the engine's own back-off and resend waits)."""
    for rounds in range(1, limit + 1):
        engine_round(project, later=later)
        if done():
            return rounds
        k5sim.advance(step)
        later += step if portal_clock_moves else 0
    raise AssertionError("the engine did not get there")


def state_of(job):
    job.refresh_from_db()
    return job.state


def steps(job):
    return {s.name: s.state for s in job.steps.all()}


def server(k5sim, server_id):
    return k5sim.control("GET", f"servers/{server_id}").json()


def actions(k5sim, action):
    return [entry for entry in k5sim.requests_log() if entry.get("action") == action]


def snapshot_posts(k5sim):
    return [
        e
        for e in k5sim.requests_log()
        if e["method"] == "POST" and e["path"].split("?")[0].endswith("/snapshots")
    ]


def snapshot_deletes(k5sim):
    return [
        e for e in k5sim.requests_log() if e["method"] == "DELETE" and "/snapshots/" in e["path"]
    ]


@pytest.mark.django_db
def test_it_takes_a_windows_server_round_trip_in_the_vendors_order(k5sim, project, bob):
    job = submit(project, bob, WIN_APP, "win-golden", automation=ROUND_TRIP)
    assert job.state == JobState.PREPARING
    assert list(job.steps.values_list("name", flat=True)) == [
        "snapshot",
        "await_shutdown",
        "upload",
        "restore_snapshot",
        "start_server",
        "delete_snapshot",
    ]

    run_until(project, k5sim, lambda: state_of(job) == JobState.AWAITING_SHUTDOWN)
    [snapshot] = k5sim.state()["snapshots"]
    assert (snapshot["id"], snapshot["content"]) == (job.snapshot_id, "original")

    # Nothing is uploaded, and no slot is held, while the server waits for Sysprep.
    for _ in range(3):
        engine_round(project)
        k5sim.advance(60)
    assert state_of(job) == JobState.AWAITING_SHUTDOWN
    assert actions(k5sim, "os-volume_upload_image") == []
    assert not UploadAttempt.objects.filter(job=job).exists()

    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")
    run_until(project, k5sim, lambda: state_of(job) == JobState.UPLOADING)
    # Verified, not yet restored: the server stays off until the image is usable.
    run_until(project, k5sim, lambda: state_of(job) == JobState.VERIFYING, step=60)
    assert actions(k5sim, "fcx-restore") == []
    assert server(k5sim, WIN_APP_SERVER)["status"] == "SHUTOFF"

    run_until(project, k5sim, lambda: state_of(job) == JobState.SUCCEEDED)

    assert steps(job) == dict.fromkeys(
        [
            "snapshot",
            "await_shutdown",
            "upload",
            "restore_snapshot",
            "start_server",
            "delete_snapshot",
        ],
        "done",
    )
    [start] = server(k5sim, WIN_APP_SERVER)["starts"]
    assert start["content"] == "original", "started only on the restored disk"
    assert server(k5sim, WIN_APP_SERVER)["status"] == "ACTIVE"
    assert k5sim.state()["snapshots"] == []
    # The order of the K5 actions, each sent once.
    sent = [
        snapshot_posts(k5sim),
        actions(k5sim, "os-volume_upload_image"),
        actions(k5sim, "fcx-restore"),
        actions(k5sim, "os-start"),
        snapshot_deletes(k5sim),
    ]
    assert [len(calls) for calls in sent] == [1, 1, 1, 1, 1]
    times = [calls[0]["received_at"] for calls in sent]
    assert times == sorted(times)
    finishing = job.events.get(to_state="finishing").created_at
    restore_event = job.events.get(kind=EventKind.K5_CALL, detail__step="restore_snapshot")
    assert finishing <= restore_event.created_at
    for name in ("snapshot", "restore_snapshot", "start_server", "delete_snapshot"):
        event = job.events.get(kind=EventKind.K5_CALL, detail__step=name)
        assert event.detail["request_id"].startswith("req-"), name
    # Each step's end is in the history too, with what K5 showed.
    ended = job.events.filter(kind=EventKind.NOTE, detail__state="done")
    assert sorted(e.detail["step"] for e in ended) == sorted(steps(job))


@pytest.mark.django_db
def test_a_linux_server_is_down_for_the_copy_only(k5sim, project, bob):
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    assert job.state == JobState.QUEUED and job.force

    run_until(project, k5sim, lambda: state_of(job) == JobState.UPLOADING)
    [stop] = actions(k5sim, "os-stop")
    [upload] = actions(k5sim, "os-volume_upload_image")
    assert stop["received_at"] < upload["received_at"]
    assert server(k5sim, CENTOS_APP_SERVER)["status"] == "SHUTOFF"

    run_until(project, k5sim, lambda: state_of(job) != JobState.UPLOADING, step=30)
    assert job.state in (JobState.VERIFYING, JobState.SUCCEEDED)
    # The round that saw the copy end sent the start.
    assert len(actions(k5sim, "os-start")) == 1
    run_until(project, k5sim, lambda: steps(job)["start_server"] == "done")
    assert server(k5sim, CENTOS_APP_SERVER)["status"] == "ACTIVE"
    run_until(project, k5sim, lambda: state_of(job) == JobState.SUCCEEDED)
    assert steps(job) == {"stop_server": "done", "upload": "done", "start_server": "done"}


@pytest.mark.django_db
def test_a_server_already_stopped_is_not_started_afterwards(k5sim, project, bob):
    k5sim.control("POST", f"servers/{CENTOS_APP_SERVER}/power-off", json={"after_seconds": 0})
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    run_until(project, k5sim, lambda: state_of(job) == JobState.SUCCEEDED, step=60)
    assert steps(job) == {"stop_server": "skipped", "upload": "done", "start_server": "skipped"}
    assert actions(k5sim, "os-stop") == actions(k5sim, "os-start") == []
    assert server(k5sim, CENTOS_APP_SERVER)["status"] == "SHUTOFF"


@pytest.mark.django_db
def test_a_failed_copy_starts_the_stopped_server_again(k5sim, project, bob):
    k5sim.add_fault(kind="upload_failure", volume_id=CENTOS_APP)
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    run_until(project, k5sim, lambda: state_of(job) == JobState.FAILED, step=30)
    run_until(project, k5sim, lambda: steps(job)["start_server"] == "done")
    assert steps(job)["upload"] == "failed"
    assert server(k5sim, CENTOS_APP_SERVER)["status"] == "ACTIVE"
    job.refresh_from_db()
    engine_round(project)
    job.refresh_from_db()
    assert not job.steps_open, "nothing left for the engine: the job is no longer visited"


@pytest.mark.django_db
def test_a_refused_stop_gives_the_slot_back_and_waits_for_a_person(k5sim, project, bob, alice):
    k5sim.add_fault(kind="http", path="/servers/[^/]+/action$", action="os-stop", status=409)
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    engine_round(project)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert steps(job)["stop_server"] == "failed"
    assert "mark it done" in job.waiting_reason
    assert not UploadAttempt.objects.filter(job=job).exclude(outcome="not_sent").exists()
    for _ in range(3):
        engine_round(project)
    assert len(actions(k5sim, "os-stop")) == 1, "a refusal is not tried again by itself"

    with pytest.raises(Refusal) as refused:
        automation.mark_step_done(job, "upload", alice)
    assert refused.value.code == "not_allowed"

    automation.retry_step(job, "stop_server", bob)
    run_until(project, k5sim, lambda: state_of(job) == JobState.UPLOADING)
    assert len(actions(k5sim, "os-stop")) == 2
    assert job.events.filter(kind=EventKind.ACTION, message__contains="retried by bob").exists()


@pytest.mark.django_db
def test_an_upload_sent_back_to_the_queue_starts_the_server_until_its_turn(k5sim, project, bob):
    # Someone outside the portal used this hour's uploads: K5 answers the upload 413 after
    # the portal has stopped the server.
    k5sim.add_fault(
        kind="http",
        path="/volumes/[^/]+/action$",
        action="os-volume_upload_image",
        status=413,
    )
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    run_until(project, k5sim, lambda: len(actions(k5sim, "os-volume_upload_image")) == 1)
    assert state_of(job) == JobState.QUEUED
    assert len(actions(k5sim, "os-stop")) == 1

    # K5 asked for a minute: the server is not kept down for it.
    run_until(project, k5sim, lambda: server(k5sim, CENTOS_APP_SERVER)["status"] == "ACTIVE")
    run_until(project, k5sim, lambda: steps(job)["stop_server"] == "pending")
    assert state_of(job) == JobState.QUEUED
    assert steps(job) == {"stop_server": "pending", "upload": "pending", "start_server": "pending"}
    assert job.events.filter(code="automation.started_until_turn").exists()

    # Its turn again: stopped, copied, started, as the first time.
    run_until(project, k5sim, lambda: state_of(job) == JobState.SUCCEEDED, step=30, later=120)
    stops, starts = actions(k5sim, "os-stop"), actions(k5sim, "os-start")
    uploads = actions(k5sim, "os-volume_upload_image")
    assert (len(stops), len(uploads), len(starts)) == (2, 2, 2)
    assert starts[0]["received_at"] < stops[1]["received_at"] < uploads[1]["received_at"]
    assert server(k5sim, CENTOS_APP_SERVER)["status"] == "ACTIVE"
    assert steps(job) == {"stop_server": "done", "upload": "done", "start_server": "done"}


@pytest.mark.django_db
def test_a_stop_marked_done_by_hand_goes_on_to_the_upload(k5sim, project, bob, alice):
    k5sim.add_fault(kind="http", path="/servers/[^/]+/action$", action="os-stop", status=409)
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    engine_round(project)
    assert steps(job)["stop_server"] == "failed"
    # The member stops the server in K5's console, then says so.
    k5sim.control("POST", f"servers/{CENTOS_APP_SERVER}/power-off", json={"after_seconds": 0})
    automation.mark_step_done(job, "stop_server", bob)

    run_until(project, k5sim, lambda: state_of(job) == JobState.SUCCEEDED, step=30)
    assert len(actions(k5sim, "os-stop")) == 1
    assert len(actions(k5sim, "os-volume_upload_image")) == 1
    assert steps(job) == {"stop_server": "done", "upload": "done", "start_server": "done"}
    assert server(k5sim, CENTOS_APP_SERVER)["status"] == "ACTIVE"


@pytest.mark.django_db
def test_a_transient_error_on_the_restore_is_tried_again(k5sim, project, bob):
    job = submit(project, bob, WIN_APP, "win-golden", automation=ROUND_TRIP)
    run_until(project, k5sim, lambda: state_of(job) == JobState.AWAITING_SHUTDOWN)
    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")
    run_until(project, k5sim, lambda: state_of(job) == JobState.VERIFYING, step=60)
    k5sim.add_fault(kind="http", path="/snapshots/[^/]+/action$", action="fcx-restore", status=500)
    run_until(
        project,
        k5sim,
        lambda: state_of(job) == JobState.SUCCEEDED,
        step=30,
        limit=40,
        portal_clock_moves=True,  # the back-off and the resend wait are the portal's
    )
    restores = actions(k5sim, "fcx-restore")
    assert [entry["status"] for entry in restores] == [500, 202]
    assert job.events.filter(kind=EventKind.NOTE, message__contains="trying again").exists()
    [start] = server(k5sim, WIN_APP_SERVER)["starts"]
    assert start["content"] == "original"


@pytest.mark.django_db
def test_a_sync_failure_keeps_the_sysprepd_disk_and_the_retry_takes_over_the_snapshot(
    k5sim, project, bob
):
    project.sync_settle_base_seconds = 600  # the zone's failure comes inside the window
    project.save()
    job = submit(project, bob, WIN_APP, "win-golden", automation=ROUND_TRIP)
    run_until(project, k5sim, lambda: state_of(job) == JobState.AWAITING_SHUTDOWN)
    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")
    run_until(project, k5sim, lambda: state_of(job) == JobState.UPLOADING)
    # For this job's image: the demo's own upload in flight registers to jp-east-1a too.
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1a", image_id=job.image_id)
    run_until(project, k5sim, lambda: state_of(job) == JobState.SYNC_FAILED, step=60)
    for _ in range(3):
        engine_round(project)
    assert actions(k5sim, "fcx-restore") == [] and actions(k5sim, "os-start") == []
    assert server(k5sim, WIN_APP_SERVER)["status"] == "SHUTOFF"
    assert automation.can_restore_now(job, bob)

    project.sync_settle_base_seconds = 0
    project.save()
    retry = retry_job(job, bob, channel="web")
    assert retry.snapshot_id == job.snapshot_id
    assert not automation.can_restore_now(job, bob), "the snapshot is the retry's now"
    assert steps(job)["restore_snapshot"] == "skipped"
    run_until(project, k5sim, lambda: state_of(retry) == JobState.SUCCEEDED, step=60)
    assert len(snapshot_posts(k5sim)) == 1, "no second snapshot of a Sysprep'd disk"
    [start] = server(k5sim, WIN_APP_SERVER)["starts"]
    assert start["content"] == "original"


@pytest.mark.django_db
def test_restore_now_gives_up_and_puts_the_server_back(k5sim, project, bob, dana):
    k5sim.add_fault(kind="upload_failure", volume_id=WIN_APP)
    job = submit(project, bob, WIN_APP, "win-golden", automation=ROUND_TRIP)
    run_until(project, k5sim, lambda: state_of(job) == JobState.AWAITING_SHUTDOWN)
    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")
    run_until(project, k5sim, lambda: state_of(job) == JobState.FAILED, step=60)
    engine_round(project)
    assert server(k5sim, WIN_APP_SERVER)["status"] == "SHUTOFF"

    with pytest.raises(Refusal):
        automation.restore_now(job, dana)
    automation.restore_now(job, bob)
    run_until(project, k5sim, lambda: steps(job)["delete_snapshot"] == "done")
    job.refresh_from_db()
    assert job.state == JobState.FAILED, "still failed: no image came of it"
    [start] = server(k5sim, WIN_APP_SERVER)["starts"]
    assert start["content"] == "original"
    assert k5sim.state()["snapshots"] == []


@pytest.mark.django_db
def test_no_shutdown_in_time_cancels_and_deletes_the_snapshot(k5sim, project, bob, settings):
    settings.ENGINE_SHUTDOWN_WAIT_SECONDS = 600
    job = submit(project, bob, WIN_APP, "win-golden", automation=ROUND_TRIP)
    run_until(project, k5sim, lambda: state_of(job) == JobState.AWAITING_SHUTDOWN)
    engine_round(project, later=300)
    assert state_of(job) == JobState.AWAITING_SHUTDOWN
    engine_round(project, later=601)
    assert state_of(job) == JobState.CANCELLED
    run_until(project, k5sim, lambda: k5sim.state()["snapshots"] == [], later=601)
    assert steps(job)["restore_snapshot"] == steps(job)["start_server"] == "skipped"
    assert actions(k5sim, "os-volume_upload_image") == []
    assert server(k5sim, WIN_APP_SERVER)["starts"] == []


@pytest.mark.django_db
def test_a_cancelled_stop_start_job_starts_the_server_it_stopped(k5sim, project, bob):
    job = submit(project, bob, CENTOS_APP, "app-golden", automation=STOP_START)
    engine_round(project)
    assert state_of(job) == JobState.PREPARING
    assert len(actions(k5sim, "os-stop")) == 1
    cancel_job(job, bob)
    assert not UploadAttempt.objects.filter(job=job, outcome="sending").exists()
    run_until(project, k5sim, lambda: steps(job)["start_server"] == "done")
    assert server(k5sim, CENTOS_APP_SERVER)["status"] == "ACTIVE"
    assert actions(k5sim, "os-volume_upload_image") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("volume_id", "automation_name", "why"),
    [
        (CENTOS_APP, ROUND_TRIP, "only to a Windows volume"),
        (WIN_AD, ROUND_TRIP, "attached to no server"),
        (CENTOS_WEB, STOP_START, "attached to no server"),
    ],
)
def test_automation_that_does_not_apply_is_refused(
    k5sim, project, bob, volume_id, automation_name, why
):
    with pytest.raises(Refusal) as refused:
        submit(project, bob, volume_id, "x-golden", automation=automation_name)
    assert (refused.value.code, refused.value.field) == ("automation_not_applicable", "automation")
    assert why in refused.value.message
    assert not ImageJob.objects.exists()


@pytest.mark.django_db
def test_a_restore_k5_did_despite_its_error_is_not_sent_again(k5sim, project, bob):
    job = submit(project, bob, WIN_APP, "win-golden", automation=ROUND_TRIP)
    run_until(project, k5sim, lambda: state_of(job) == JobState.AWAITING_SHUTDOWN)
    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")
    run_until(project, k5sim, lambda: state_of(job) == JobState.VERIFYING, step=60)
    k5sim.add_fault(
        kind="http", path="/snapshots/[^/]+/action$", action="fcx-restore", status=500, acted=True
    )
    run_until(
        project,
        k5sim,
        lambda: state_of(job) == JobState.SUCCEEDED,
        step=30,
        limit=40,
        portal_clock_moves=True,
    )
    assert [entry["status"] for entry in actions(k5sim, "fcx-restore")] == [500]
    [start] = server(k5sim, WIN_APP_SERVER)["starts"]
    assert start["content"] == "original"
