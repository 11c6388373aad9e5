"""The vendor's procedure around the upload, done by the portal (a job's `automation`).

- `stop_start`: when the job's upload slot comes, stop the server (`os-stop`, wait for
  SHUTOFF), upload with force, and start it again as soon as K5's copy has ended (the volume
  back at rest) — the server is down for the copy, not for the zones' settle window.
- `sysprep_round_trip` (Windows): snapshot the volume (`preparing`), wait for Sysprep's
  /shutdown (`awaiting_shutdown`; no upload slot is held), upload, and once the image is usable
  (`finishing`) restore the snapshot (K5's `fcx-restore`), wait for the volume to be back at
  rest, start the server, delete the snapshot (unless kept).

Every step is claimed (its `sent_at` committed) before its K5 action leaves, and looks at K5
before acting — the snapshot made by name, the server already stopped or started, the restore
already shown by the volume — so a worker killed inside a step resumes without doing a K5
action twice. A transient K5 error (5xx, timeout) is tried again with back-off; a refusal (4xx)
leaves the step `failed` for a person (retry it, or do it by hand and mark it done). The server
of a round trip is never started while its restore has not succeeded: it would boot the
Sysprep'd disk.

The tick runs `advance_project` for each project it takes, in the ticker's thread, under the
poll deadline: a step costs one or two GETs per tick while it waits, and a POST when it acts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imaging import dispatch
from imaging.access import can_act_on
from imaging.engine.connections import client_for
from imaging.engine.errors import CredentialsInvalid, Refusal
from imaging.k5 import K5Error, K5NotFound, blockstorage, compute
from imaging.k5 import deadline as k5_deadline
from imaging.k5.types import (
    SERVER_ACTIVE,
    SERVER_SHUTOFF,
    SNAPSHOT_AVAILABLE,
    SNAPSHOT_ERROR,
    VOLUME_AVAILABLE,
    VOLUME_IN_USE,
)
from imaging.messages import Said, k5_words, said
from imaging.models import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    Automation,
    EventKind,
    ImageJob,
    InvalidTransition,
    JobState,
    JobStep,
    K5Project,
    OsFamily,
    StepName,
    StepState,
    UploadAttempt,
)

logger = logging.getLogger(__name__)

SHUTOFF, ACTIVE = SERVER_SHUTOFF, SERVER_ACTIVE
# Where Cinder leaves a volume no copy or restore is working on.
VOLUME_AT_REST = frozenset({VOLUME_AVAILABLE, VOLUME_IN_USE})

PLANS: dict[str, tuple[str, ...]] = {
    Automation.STOP_START: (StepName.STOP_SERVER, StepName.UPLOAD, StepName.START_SERVER),
    Automation.SYSPREP_ROUND_TRIP: (
        StepName.SNAPSHOT,
        StepName.AWAIT_SHUTDOWN,
        StepName.UPLOAD,
        StepName.RESTORE_SNAPSHOT,
        StepName.START_SERVER,
        StepName.DELETE_SNAPSHOT,
    ),
}
# Steps a person may mark done after doing them in K5 by hand (a snapshot cannot be: the
# restore needs its id).
MARKABLE = frozenset(
    {
        StepName.STOP_SERVER,
        StepName.RESTORE_SNAPSHOT,
        StepName.START_SERVER,
        StepName.DELETE_SNAPSHOT,
    }
)
MAX_RETRY_SECONDS = 600
BEFORE_UPLOAD = frozenset({StepName.SNAPSHOT, StepName.AWAIT_SHUTDOWN, StepName.STOP_SERVER})


def initial_state(automation: str) -> str:
    """A round trip begins with its snapshot; everything else waits for an upload slot."""
    return JobState.PREPARING if automation == Automation.SYSPREP_ROUND_TRIP else JobState.QUEUED


def plan_steps(job: ImageJob, *, inherited_from: ImageJob | None = None) -> None:
    """Create the job's steps. A retry of a round trip takes over its original's snapshot:
    the volume is already Sysprep'd, and that snapshot is what undoes it."""
    JobStep.objects.bulk_create(
        JobStep(job=job, name=name, position=position)
        for position, name in enumerate(PLANS.get(job.automation, ()))
    )
    if inherited_from is not None:
        inherited_from.steps.filter(
            name__in=(
                StepName.RESTORE_SNAPSHOT,
                StepName.START_SERVER,
                StepName.DELETE_SNAPSHOT,
            ),
            state__in=(StepState.PENDING, StepState.FAILED),
        ).update(
            state=StepState.SKIPPED,
            **JobStep.detail_fields(said("detail.handed_over", job=job.pk)),
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        ImageJob.objects.filter(pk=inherited_from.pk).update(steps_open=False)


def snapshot_name(job: ImageJob) -> str:
    """Unique per job, so a snapshot made before a worker died is found again by name."""
    return f"k5portal-job-{job.pk}-before-sysprep"


def handed_over_snapshot(job: ImageJob) -> str:
    """The snapshot a retry of `job` takes over: a round trip whose disk is still Sysprep'd
    (the shutdown came and no restore was done)."""
    if job.automation != Automation.SYSPREP_ROUND_TRIP or not job.snapshot_id:
        return ""
    steps = {step.name: step for step in job.steps.all()}
    shut_down = steps.get(StepName.AWAIT_SHUTDOWN)
    restore = steps.get(StepName.RESTORE_SNAPSHOT)
    if shut_down is None or shut_down.state != StepState.DONE:
        return ""
    if restore is None or restore.closed:
        return ""
    return job.snapshot_id


# --- the tick's part ------------------------------------------------------------------------


def automated_jobs(project: K5Project) -> list[ImageJob]:
    jobs = list(
        ImageJob.objects.filter(project=project)
        .exclude(automation=Automation.NONE)
        .filter(Q(state__in=ACTIVE_STATES) | Q(steps_open=True))
        .prefetch_related("steps")
        .order_by("created_at", "id")
    )
    for job in jobs:
        job.project = project
    return jobs


def advance_project(project: K5Project, now: datetime | None = None) -> int:
    """Move every automated job of the project on by one look at K5. Returns the number of
    steps that acted or finished."""
    jobs = automated_jobs(project)
    if not jobs:
        return 0
    moved = 0
    client = None
    with k5_deadline.within(settings.ENGINE_POLL_DEADLINE_SECONDS):
        for job in jobs:
            steps = list(job.steps.all())
            before = {step.pk: step.state for step in steps}
            try:
                _settle(job, steps, now or timezone.now())
                if _stop_settled_before_turn(job, steps):
                    continue
                step = due_step(job, steps)
                if step is None:
                    _close_if_settled(job, steps)
                    continue
                if step.next_try_at and step.next_try_at > (now or timezone.now()):
                    continue
                try:
                    client = client or client_for(project)
                except (CredentialsInvalid, K5Error) as exc:
                    logger.warning("automation for %s cannot sign in: %s", project.name, exc)
                    return moved
                moved += advance_step(job, step, steps, client, now or timezone.now())
            finally:
                _record_closed(job, steps, before)
    return moved


def _record_closed(job: ImageJob, steps: list[JobStep], before: dict[int, str]) -> None:
    """Each step that ended (done or skipped) is in the job's audit history, with what K5
    showed; a failed one is recorded where it fails, with what to do."""
    for step in steps:
        if step.state != before.get(step.pk) and step.state in (StepState.DONE, StepState.SKIPPED):
            job.record(
                EventKind.NOTE,
                said("step.closed", step=step.name, step_state=step.state, detail=step.said()),
                detail={"step": step.name, "state": step.state, "request_id": step.request_id},
            )


def advance_step(job: ImageJob, step: JobStep, steps: list[JobStep], client, now) -> int:
    handler = HANDLERS[step.name]
    before = (step.state, step.sent_at)
    try:
        handler(job, step, steps, client, now)
    except InvalidTransition:
        return 0  # another worker moved the job first
    except K5Error as exc:
        if exc.permanent:
            _refused(job, step, exc, now)
        else:
            _transient(job, step, exc, now)
    except CredentialsInvalid:
        # Our own finding, not K5's words: the step waits like the project's other work
        # until an admin fixes the credential.
        _transient(job, step, None, now)
    _finish_if_done(job, steps, now)
    return int((step.state, step.sent_at) != before)


def due_step(job: ImageJob, steps: list[JobStep]) -> JobStep | None:
    """The step the engine works on now, or None (nothing to do, or a failed step waits for a
    person). Steps run in order; the upload is the engine's main line, not run here."""
    for step in sorted(steps, key=lambda s: s.position):
        if step.closed:
            continue
        if step.name == StepName.UPLOAD:
            if step.state == StepState.FAILED:
                continue  # the copy failed: what follows it (the server's start) still runs
            if job.state == JobState.QUEUED and stopped_by_portal(steps):
                continue  # sent back to the queue: the server is started while it waits
            return None
        if step.state == StepState.FAILED:
            if job.state in TERMINAL_STATES and step.name in BEFORE_UPLOAD:
                continue  # the job ended over it; what undoes the automation still runs
            return None
        return step if _gate_open(job, step, steps) else None
    return None


def _gate_open(job: ImageJob, step: JobStep, steps: list[JobStep]) -> bool:
    state = job.state
    ended = state in TERMINAL_STATES
    if step.name == StepName.SNAPSHOT:
        return state == JobState.PREPARING
    if step.name == StepName.AWAIT_SHUTDOWN:
        return state == JobState.AWAITING_SHUTDOWN
    if step.name == StepName.STOP_SERVER:
        return state == JobState.PREPARING
    round_trip = job.automation == Automation.SYSPREP_ROUND_TRIP
    if round_trip and step.name in (StepName.RESTORE_SNAPSHOT, StepName.START_SERVER):
        return state == JobState.FINISHING or (ended and job.restore_requested_at is not None)
    if step.name == StepName.START_SERVER:  # stop/start: once the copy is over (or never came)
        return (
            ended
            or state in (JobState.VERIFYING, JobState.SUCCEEDED)
            or (state == JobState.QUEUED and stopped_by_portal(steps))
        )
    if step.name == StepName.DELETE_SNAPSHOT:
        return state == JobState.FINISHING or ended
    return False


def _settle(job: ImageJob, steps: list[JobStep], now: datetime) -> None:
    """The upload step mirrors the job's main line; and once a job has ended, the steps that
    can no longer apply are closed with the reason."""
    by_name = {step.name: step for step in steps}
    upload = by_name.get(StepName.UPLOAD)
    if upload is not None and not upload.closed and upload.state != StepState.FAILED:
        if job.state in (JobState.SUBMITTING, JobState.UPLOADING) and upload.state != "running":
            _set(upload, StepState.RUNNING, said("detail.sending_upload"), started=now)
        elif job.state in (
            JobState.VERIFYING,
            JobState.FINISHING,
            JobState.SUCCEEDED,
            JobState.SYNC_FAILED,
        ):
            _set(
                upload,
                StepState.DONE,
                said("detail.image_created", image_id=job.image_id),
                finished=now,
            )
        elif job.state == JobState.QUEUED and upload.state == StepState.RUNNING:
            # Sent back to the queue (K5's upload limit, K5 unreachable, the credential).
            _set(upload, StepState.PENDING, said("detail.back_in_queue"))
        elif job.state == JobState.FAILED and (job.image_id or job.submitted_at):
            _set(upload, StepState.FAILED, job.error_said(), finished=now)
        elif job.state in TERMINAL_STATES:
            _set(
                upload,
                StepState.SKIPPED,
                said("detail.not_sent", job_state=job.state),
                finished=now,
            )
    if job.automation == Automation.STOP_START and job.state == JobState.QUEUED:
        _plan_again_once_started(job, by_name)
    if job.state not in TERMINAL_STATES:
        return
    if job.automation == Automation.STOP_START:
        stop, start = by_name[StepName.STOP_SERVER], by_name[StepName.START_SERVER]
        if not stop.closed and stop.sent_at is None:
            _set(stop, StepState.SKIPPED, said("detail.ended_first"), finished=now)
        elif not stop.closed:
            _set(stop, StepState.DONE, said("detail.stopped_before_end"), finished=now)
        if stop.state == StepState.SKIPPED and not start.closed:
            _set(start, StepState.SKIPPED, said("detail.not_stopped_by_portal"), finished=now)
        return
    shut_down = by_name[StepName.AWAIT_SHUTDOWN]
    if shut_down.state != StepState.DONE:
        # Ended before Sysprep's shutdown: the disk is as it was; only the snapshot goes.
        for name in (StepName.SNAPSHOT, StepName.AWAIT_SHUTDOWN):
            if not by_name[name].closed and by_name[name].state != StepState.FAILED:
                _set(
                    by_name[name],
                    StepState.SKIPPED,
                    said("detail.job_ended", job_state=job.state),
                    finished=now,
                )
        for name in (StepName.RESTORE_SNAPSHOT, StepName.START_SERVER):
            if not by_name[name].closed:
                _set(
                    by_name[name],
                    StepState.SKIPPED,
                    said("detail.not_shut_down_for_sysprep"),
                    finished=now,
                )


def stopped_by_portal(steps: list[JobStep]) -> bool:
    """The portal's own stop of the server took effect (not one a person marked done: that
    step's send was cleared, see mark_step_done)."""
    stop = next((s for s in steps if s.name == StepName.STOP_SERVER), None)
    return stop is not None and stop.state == StepState.DONE and stop.sent_at is not None


def _plan_again_once_started(job: ImageJob, by_name: dict[str, JobStep]) -> None:
    """A stop/start job sent back to the queue after its server was stopped: the start step
    runs now (its gate), so the server is not down while the job waits for its turn; once the
    server is running again, the stop and the start are planned afresh for that turn."""
    stop, start = by_name[StepName.STOP_SERVER], by_name[StepName.START_SERVER]
    if not (stopped_by_portal([stop]) and start.state == StepState.DONE):
        return
    with transaction.atomic():
        for step in (stop, start):
            _update(
                step,
                state=StepState.PENDING,
                started_at=None,
                finished_at=None,
                sent_at=None,
                request_id="",
                attempts=0,
                seen_before={},
                next_try_at=None,
                **JobStep.detail_fields(said("detail.again_at_turn")),
            )
        job.record(EventKind.NOTE, said("automation.started_until_turn"))


def _stop_settled_before_turn(job: ImageJob, steps: list[JobStep]) -> bool:
    """A stop/start job given its slot whose stop is already settled — marked done by a
    person who stopped the server by hand, or skipped because the server was already off —
    goes on to the upload. Returns whether it did."""
    if job.automation != Automation.STOP_START or job.state != JobState.PREPARING:
        return False
    stop = _step(steps, StepName.STOP_SERVER)
    if not stop.closed:
        return False
    with contextlib.suppress(InvalidTransition):  # another worker moved it first
        _to_upload(job, said("automation.stop_settled_sending"))
    return True


def _close_if_settled(job: ImageJob, steps: list[JobStep]) -> None:
    """A job that has ended and has no step the engine may run by itself is no longer
    visited (its remaining steps wait for a person: restore now, or a retry)."""
    if job.steps_open and job.state in TERMINAL_STATES and due_step(job, steps) is None:
        ImageJob.objects.filter(pk=job.pk).update(steps_open=False)
        job.steps_open = False


def _finish_if_done(job: ImageJob, steps: list[JobStep], now: datetime) -> None:
    if job.state == JobState.FINISHING and all(step.closed for step in steps):
        job.transition(
            JobState.SUCCEEDED,
            message=said("automation.succeeded"),
            detail={"steps": [step.name for step in steps]},
        )
    if job.state in TERMINAL_STATES:
        _settle(job, steps, now)
        _close_if_settled(job, steps)


# --- steps ----------------------------------------------------------------------------------


def _snapshot(job: ImageJob, step: JobStep, steps, client, now) -> None:
    if job.snapshot_id:
        try:
            snap = blockstorage.snapshot_get(client, job.snapshot_id)
        except K5NotFound:
            _fail_step(job, step, said("step.snapshot_gone", snapshot_id=job.snapshot_id), now)
            return
    else:
        # Look before acting: a snapshot this job made before its worker died has its name.
        found = blockstorage.snapshot_list(client, volume_id=job.volume_id, name=snapshot_name(job))
        if found:
            snap = found[0]
        else:
            _claim(step, now)
            snap = blockstorage.snapshot_create(
                client,
                job.volume_id,
                snapshot_name(job),
                description=f"Taken by the image portal before Sysprep (job {job.pk}).",
                force=True,
            )
            _acted(job, step, said("step.asked_snapshot", snapshot_id=snap.id), snap.request_id)
        ImageJob.objects.filter(pk=job.pk).update(snapshot_id=snap.id)
        job.snapshot_id = snap.id
    if snap.status == SNAPSHOT_AVAILABLE:
        with transaction.atomic():
            _set(
                step,
                StepState.DONE,
                said("detail.snapshot_available", snapshot_id=snap.id),
                finished=now,
            )
            shut_down = _step(steps, StepName.AWAIT_SHUTDOWN)
            _set(shut_down, StepState.RUNNING, said("detail.waiting_for_sysprep"), started=now)
            if job.retry_of_id and step.sent_at is None:
                message = said(
                    "automation.snapshot_reused", snapshot_id=snap.id, job=job.retry_of_id
                )
            else:
                message = said("automation.snapshot_taken", snapshot_id=snap.id)
            job.transition(
                JobState.AWAITING_SHUTDOWN, message=message, detail={"snapshot_id": snap.id}
            )
    elif snap.status == SNAPSHOT_ERROR:
        _fail_step(job, step, said("step.snapshot_error", snapshot_id=snap.id), now)
    else:
        _set(
            step,
            StepState.RUNNING,
            said("detail.snapshot_in_progress", snapshot_id=snap.id, status=snap.status),
        )


def _await_shutdown(job: ImageJob, step: JobStep, steps, client, now) -> None:
    try:
        server = compute.server_get(client, job.server_id)
    except K5NotFound:
        _set(step, StepState.FAILED, said("detail.server_gone", server=job.server_id), finished=now)
        job.transition(
            JobState.FAILED,
            message=said("automation.server_deleted"),
            error_message=said("automation.server_deleted"),
        )
        return
    if server.status == SHUTOFF and not server.task_state:
        with transaction.atomic():
            _set(
                step,
                StepState.DONE,
                said("detail.server_shutoff", server=server.name or server.id),
                finished=now,
            )
            job.transition(
                JobState.QUEUED,
                message=said("automation.shut_down", server=server.name or server.id),
                detail={"server_status": server.status},
            )
            dispatch.enqueue(dispatch.START_UPLOADS, job.project_id)
        return
    started = step.started_at or now
    waited = (now - started).total_seconds()
    if waited > settings.ENGINE_SHUTDOWN_WAIT_SECONDS:
        with transaction.atomic():
            _set(
                step,
                StepState.FAILED,
                said("detail.server_stayed", status=server.status, waited_seconds=int(waited)),
                finished=now,
            )
            job.transition(
                JobState.CANCELLED,
                message=said(
                    "automation.shutdown_timed_out",
                    wait_seconds=int(settings.ENGINE_SHUTDOWN_WAIT_SECONDS),
                ),
                detail={"server_status": server.status, "waited_seconds": int(waited)},
            )
        return
    _set(step, StepState.RUNNING, said("detail.server_waiting_sysprep", status=server.status))


def _stop_server(job: ImageJob, step: JobStep, steps, client, now) -> None:
    server = compute.server_get(client, job.server_id)
    if server.status == SHUTOFF and not server.task_state:
        with transaction.atomic():
            if step.sent_at is not None:
                _set(
                    step,
                    StepState.DONE,
                    said("detail.server_shutoff", server=server.name or server.id),
                    finished=now,
                )
            else:
                _set(
                    step,
                    StepState.SKIPPED,
                    said("detail.already_shutoff"),
                    finished=now,
                )
                start = _step(steps, StepName.START_SERVER)
                _set(start, StepState.SKIPPED, said("detail.not_stopped_by_portal"), finished=now)
            _to_upload(job, said("automation.server_shutoff_sending"))
        return
    _power(
        job, step, server, now, verb="stop", only=ACTIVE, send=compute.server_stop, client=client
    )


def _power(job: ImageJob, step: JobStep, server, now, *, verb: str, only: str, send, client):
    """Stopping and starting alike: wait while K5 works on it (or an action just sent has not
    shown yet), leave a server in any other state to a person, else claim and send."""
    if _power_timed_out(job, step, now, verb):
        return
    if server.task_state or _recently_sent(step, now):
        _set(step, StepState.RUNNING, said("detail.k5_working", task=server.task_state or "—"))
        return
    if server.status != only:
        refused = "step.server_not_active" if verb == "stop" else "step.server_not_shutoff"
        _fail_step(job, step, said(refused, status=server.status), now)
        return
    _claim(step, now)
    request_id = send(client, job.server_id)
    _acted(job, step, said(f"step.asked_{verb}", server=server.name or server.id), request_id)


def _to_upload(job: ImageJob, message: Said) -> None:
    """The slot taken when the job left the queue is still counted: send the upload."""
    job.transition(JobState.SUBMITTING, message=message, submit_started_at=None, waiting_reason="")
    dispatch.enqueue(dispatch.SEND_UPLOAD, job.pk)


def _start_server(job: ImageJob, step: JobStep, steps, client, now) -> None:
    if job.automation == Automation.SYSPREP_ROUND_TRIP:
        restore = _step(steps, StepName.RESTORE_SNAPSHOT)
        if restore.state != StepState.DONE:
            # Never reached through due_step; kept as the last guard: starting now would
            # boot the Sysprep'd disk.
            raise AssertionError("the server of a round trip is never started before its restore")
    else:
        volume = blockstorage.volume_get(client, job.volume_id)
        if volume.status not in VOLUME_AT_REST:
            _set(step, StepState.PENDING, said("detail.waiting_copy_end", status=volume.status))
            return
    server = compute.server_get(client, job.server_id)
    name = server.name or server.id
    if server.status == ACTIVE and not server.task_state:
        done = "detail.server_active_again" if step.sent_at else "detail.server_already_active"
        _set(step, StepState.DONE, said(done, server=name), finished=now)
        return
    _power(
        job, step, server, now, verb="start", only=SHUTOFF, send=compute.server_start, client=client
    )


def _restore_snapshot(job: ImageJob, step: JobStep, steps, client, now) -> None:
    volume = blockstorage.volume_get(client, job.volume_id)
    if step.sent_at is not None:
        if volume.status not in VOLUME_AT_REST:
            _set(step, StepState.RUNNING, said("detail.restoring", status=volume.status))
            if not step.seen_before.get("busy"):
                _seen(step, busy=True)
            return
        if step.seen_before.get("busy") or _updated_since(volume, step):
            _set(
                step, StepState.DONE, said("detail.volume_back", status=volume.status), finished=now
            )
            return
        waited = (now - step.sent_at).total_seconds()
        if step.request_id and waited > settings.ENGINE_RESTORE_WAIT_SECONDS:
            _fail_step(
                job,
                step,
                said("step.restore_invisible"),
                now,
            )
            return
        if step.request_id or waited < settings.ENGINE_STEP_RESEND_SECONDS:
            return  # accepted, not visible yet
        # Claimed, never answered, and no sign of it on the volume: it did not reach K5.
    server = compute.server_get(client, job.server_id)
    if server.status != SHUTOFF or server.task_state:
        _fail_step(
            job,
            step,
            said("step.restore_needs_shutoff", status=server.status),
            now,
        )
        return
    if volume.status not in VOLUME_AT_REST:
        _set(step, StepState.RUNNING, said("detail.waiting_volume_rest", status=volume.status))
        return
    _claim(
        step,
        now,
        seen_before={
            "volume_status": volume.status,
            "volume_updated_at": volume.updated_at.isoformat() if volume.updated_at else None,
        },
    )
    request_id = blockstorage.snapshot_restore(client, job.snapshot_id)
    _acted(job, step, said("step.asked_restore", snapshot_id=job.snapshot_id), request_id)


def _updated_since(volume, step: JobStep) -> bool:
    before = step.seen_before.get("volume_updated_at")
    after = volume.updated_at.isoformat() if volume.updated_at else None
    return after is not None and after != before


def _delete_snapshot(job: ImageJob, step: JobStep, steps, client, now) -> None:
    if job.keep_snapshot:
        _set(
            step,
            StepState.SKIPPED,
            said("detail.snapshot_kept", snapshot_id=job.snapshot_id),
            finished=now,
        )
        return
    if not job.snapshot_id:
        _set(step, StepState.SKIPPED, said("detail.no_snapshot"), finished=now)
        return
    try:
        snap = blockstorage.snapshot_get(client, job.snapshot_id)
    except K5NotFound:
        _set(
            step,
            StepState.DONE,
            said("detail.snapshot_deleted", snapshot_id=job.snapshot_id),
            finished=now,
        )
        return
    if snap.status not in (SNAPSHOT_AVAILABLE, SNAPSHOT_ERROR) or _recently_sent(step, now):
        _set(
            step,
            StepState.RUNNING,
            said("detail.snapshot_status", snapshot_id=snap.id, status=snap.status),
        )
        return
    _claim(step, now)
    try:
        request_id = blockstorage.snapshot_delete(client, job.snapshot_id)
    except K5NotFound:
        _set(
            step,
            StepState.DONE,
            said("detail.snapshot_deleted", snapshot_id=job.snapshot_id),
            finished=now,
        )
        return
    _acted(job, step, said("step.asked_delete_snapshot", snapshot_id=job.snapshot_id), request_id)


HANDLERS: dict[str, Callable[..., None]] = {
    StepName.SNAPSHOT: _snapshot,
    StepName.AWAIT_SHUTDOWN: _await_shutdown,
    StepName.STOP_SERVER: _stop_server,
    StepName.RESTORE_SNAPSHOT: _restore_snapshot,
    StepName.START_SERVER: _start_server,
    StepName.DELETE_SNAPSHOT: _delete_snapshot,
}


# --- bookkeeping ----------------------------------------------------------------------------


def _step(steps: list[JobStep], name: str) -> JobStep:
    return next(step for step in steps if step.name == name)


def _set(
    step: JobStep,
    state: str,
    detail: Said,
    *,
    started: datetime | None = None,
    finished: datetime | None = None,
) -> None:
    fields: dict[str, object] = {"state": state, **JobStep.detail_fields(detail)}
    if state == StepState.RUNNING and step.started_at is None:
        fields["started_at"] = started or timezone.now()
    if finished is not None:
        fields["finished_at"] = finished
        fields["next_try_at"] = None
    if all(getattr(step, name) == value for name, value in fields.items()):
        return  # nothing new: no write per waiting tick
    _update(step, **fields)


def _update(step: JobStep, **fields) -> None:
    fields["updated_at"] = timezone.now()
    JobStep.objects.filter(pk=step.pk).update(**fields)
    for name, value in fields.items():
        setattr(step, name, value)


def _seen(step: JobStep, **facts) -> None:
    step.seen_before = {**step.seen_before, **facts}
    JobStep.objects.filter(pk=step.pk).update(seen_before=step.seen_before)


def _claim(step: JobStep, now: datetime, *, seen_before: dict | None = None) -> None:
    """Committed before the K5 action leaves: a worker killed after this looks at K5 first."""
    fields = {
        "state": StepState.RUNNING,
        "sent_at": now,
        "request_id": "",
        "attempts": step.attempts + 1,
        "seen_before": seen_before or {},
        "updated_at": now,
    }
    if step.started_at is None:
        fields["started_at"] = now
    JobStep.objects.filter(pk=step.pk).update(**fields)
    for name, value in fields.items():
        setattr(step, name, value)


def _acted(job: ImageJob, step: JobStep, message: Said, request_id: str | None) -> None:
    _update(step, request_id=request_id or "", **JobStep.detail_fields(message))
    job.record(
        EventKind.K5_CALL,
        message,
        detail={"step": step.name, "request_id": request_id},
    )
    if request_id:
        ImageJob.objects.filter(pk=job.pk).update(k5_request_ids=[*job.k5_request_ids, request_id])
        job.k5_request_ids = [*job.k5_request_ids, request_id]


def _recently_sent(step: JobStep, now: datetime) -> bool:
    return step.sent_at is not None and (now - step.sent_at).total_seconds() < (
        settings.ENGINE_STEP_RESEND_SECONDS
    )


def _power_timed_out(job: ImageJob, step: JobStep, now: datetime, verb: str) -> bool:
    if step.sent_at is None:
        return False
    waited = (now - step.sent_at).total_seconds()
    if waited <= settings.ENGINE_POWER_WAIT_SECONDS:
        return False
    _fail_step(job, step, said(f"step.did_not_{verb}", waited_seconds=int(waited)), now)
    return True


def _fail_step(job: ImageJob, step: JobStep, why: Said, now: datetime) -> None:
    """The step waits for a person: retry it, or do it by hand and mark it done."""
    with transaction.atomic():
        _set(step, StepState.FAILED, why, finished=now)
        waiting = said("step.refused", step=step.name, why=why)
        job.record(EventKind.NOTE, waiting, detail={"step": step.name})
        if job.state == JobState.PREPARING and step.name == StepName.STOP_SERVER:
            # Do not hold an upload slot while a person decides.
            UploadAttempt.objects.filter(job=job, outcome=UploadAttempt.Outcome.SENDING).update(
                outcome=UploadAttempt.Outcome.NOT_SENT
            )
            job.transition(JobState.QUEUED, message=waiting, waiting_reason=waiting)
        elif job.state not in TERMINAL_STATES:
            fields = ImageJob.said_fields(waiting_reason=waiting)
            ImageJob.objects.filter(pk=job.pk).update(**fields)
            for name, value in fields.items():
                setattr(job, name, value)


def _refused(job: ImageJob, step: JobStep, exc: K5Error, now: datetime) -> None:
    _fail_step(job, step, said("step.k5_refused", k5_says=k5_words(exc)), now)
    if exc.request_id:
        _acted(job, step, said("step.k5_refused_call", step=step.name), exc.request_id)
        _update(step, **JobStep.detail_fields(said("step.k5_refused", k5_says=k5_words(exc))))


def _transient(job: ImageJob, step: JobStep, exc: K5Error | None, now: datetime) -> None:
    """Tried again after a back-off: K5 failed (`exc`), or the project's credential was
    rejected (None) and waits for an admin."""
    tries = step.attempts + (0 if step.sent_at == now else 1)
    wait = min(settings.ENGINE_STEP_RETRY_SECONDS * 2 ** max(tries - 1, 0), MAX_RETRY_SECONDS)
    next_try = now + timedelta(seconds=wait)
    if exc is None:
        detail = said("detail.waiting_credentials")
        note = said("step.waiting_credentials", step=step.name, wait_seconds=int(wait))
        facts: dict = {"step": step.name}
    else:
        detail = said("detail.transient", k5_says=k5_words(exc, detailed=True))
        note = said(
            "step.transient",
            step=step.name,
            k5_says=k5_words(exc, detailed=True),
            wait_seconds=int(wait),
        )
        facts = {"step": step.name, "status": exc.status, "request_id": exc.request_id}
    _update(step, attempts=tries, next_try_at=next_try, **JobStep.detail_fields(detail))
    job.record(EventKind.NOTE, note, detail=facts)


# --- what people do -------------------------------------------------------------------------


def retry_step(job: ImageJob, step_name: str, user) -> JobStep:
    """Try a step K5 refused again (after the person fixed the cause)."""
    step = _failed_step(job, step_name, user)
    return _settled_by_person(
        job,
        step,
        user,
        said("detail.retried_by", user=user.get_username()),
        said("step.retried_by", step=step.name, user=user.get_username()),
        state=StepState.PENDING,
        sent_at=None,
        request_id="",
        finished_at=None,
    )


def mark_step_done(job: ImageJob, step_name: str, user) -> JobStep:
    """The person did the step in K5 by hand."""
    step = _failed_step(job, step_name, user)
    if step.name not in MARKABLE:
        raise Refusal(
            "not_allowed",
            _("This step cannot be marked done by hand: the portal needs what K5 returns."),
        )
    return _settled_by_person(
        job,
        step,
        user,
        said("detail.done_by_hand", user=user.get_username()),
        said("step.marked_done_by", step=step.name, user=user.get_username()),
        state=StepState.DONE,
        finished_at=timezone.now(),
        # Done by the person, not by the portal's (refused) call: a stop so marked is not
        # undone while the job waits in the queue (`stopped_by_portal`).
        sent_at=None,
    )


def _settled_by_person(
    job: ImageJob, step: JobStep, user, detail: Said, event: Said, **fields
) -> JobStep:
    """A failed step moved on by a person (claimed: still failed), the job visited again,
    and the person's act in the history."""
    with transaction.atomic():
        JobStep.objects.filter(pk=step.pk, state=StepState.FAILED).update(
            next_try_at=None, updated_at=timezone.now(), **JobStep.detail_fields(detail), **fields
        )
        _reopen(job)
        job.record(EventKind.ACTION, event, actor=user, detail={"step": step.name})
    step.refresh_from_db()
    return step


def can_restore_now(job: ImageJob, user) -> bool:
    """A round trip that ended with the server still Sysprep'd (failed, sync failed,
    cancelled after the shutdown) and not handed to a retry: restore it without an image."""
    return (
        job.automation == Automation.SYSPREP_ROUND_TRIP
        and job.state in (JobState.FAILED, JobState.SYNC_FAILED, JobState.CANCELLED)
        and job.restore_requested_at is None
        and bool(handed_over_snapshot(job))
        and can_act_on(user, job)
    )


def restore_now(job: ImageJob, user) -> ImageJob:
    if not can_restore_now(job, user):
        if not can_act_on(user, job):
            raise Refusal(
                "forbidden",
                _("Only the member who requested this job, or a project admin, may do that."),
            )
        raise Refusal(
            "not_allowed",
            _(
                "Only a Windows round trip that ended with its server still Sysprep'd, and was "
                "not retried, can be restored."
            ),
        )
    now = timezone.now()
    with transaction.atomic():
        ImageJob.objects.filter(pk=job.pk).update(
            restore_requested_at=now, steps_open=True, updated_at=now
        )
        job.record(
            EventKind.ACTION,
            said("step.restore_asked", user=user.get_username()),
            actor=user,
        )
    job.restore_requested_at, job.steps_open = now, True
    return job


def _failed_step(job: ImageJob, step_name: str, user) -> JobStep:
    if not can_act_on(user, job):
        raise Refusal(
            "forbidden",
            _("Only the member who requested this job, or a project admin, may do that."),
        )
    step = job.steps.filter(name=step_name).first()
    if step is None:
        raise Refusal("not_found", _("This job has no such step."))
    if step.state != StepState.FAILED:
        raise Refusal(
            "not_allowed", _("Only a step that did not succeed can be retried or marked done.")
        )
    return step


def _reopen(job: ImageJob) -> None:
    fields: dict[str, object] = {"waiting_reason": ""}
    if job.state in TERMINAL_STATES:
        fields["steps_open"] = True
    ImageJob.objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


# --- what the pages offer (read-only) -------------------------------------------------------


def applicable_automations(os_family: str, server: dict | None) -> list[str]:
    """The automations that fit a volume, as the create-image form offers them (validation
    refuses the others): stopping and starting needs a server; the round trip a Windows one."""
    found: list[str] = [Automation.NONE]
    if server is not None:
        found.append(Automation.STOP_START)
        if os_family == OsFamily.WINDOWS:
            found.append(Automation.SYSPREP_ROUND_TRIP)
    return found


def shutdown_deadline(job: ImageJob, steps: list[JobStep]) -> datetime | None:
    """When a round trip waiting for Sysprep's shutdown is cancelled (the wait counts from
    the moment the snapshot was available)."""
    waiting = next((s for s in steps if s.name == StepName.AWAIT_SHUTDOWN), None)
    if job.state != JobState.AWAITING_SHUTDOWN or waiting is None or waiting.started_at is None:
        return None
    return waiting.started_at + timedelta(seconds=settings.ENGINE_SHUTDOWN_WAIT_SECONDS)
