"""Schedules: a batch of images at each time of a standard 5-field cron expression, read in the
schedule's time zone, run by the engine's own tick (no extra process).

Each tick calls `run_due`: a schedule whose `next_run_at` has come is claimed with a
conditional UPDATE that moves `next_run_at` on (so two hosts never both run one time), and a
batch row is written for the run in the same transaction, with the task that checks and
queues its jobs (`prepare_run`, in a worker: the checks talk to K5, which the ticker must not
wait for). Times missed while the portal was down are run once, on recovery, not once each;
`next_run_at` then jumps to the next time still to come.

Retention (imaging.engine.retention) deletes the images a schedule made beyond its `keep`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterError, croniter
from django.db import IntegrityError, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imaging import dispatch
from imaging.access import can_act_on_schedule, can_submit
from imaging.engine.batches import (
    BatchRefused,
    BatchRequest,
    check_request,
    image_names,
    queue_batch,
)
from imaging.engine.errors import K5NotAvailable, Refusal, interpolate_lazy
from imaging.messages import Said, said
from imaging.models import (
    Automation,
    Batch,
    EngineLease,
    EventKind,
    JobEvent,
    K5Project,
    Schedule,
)

logger = logging.getLogger(__name__)

CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
# A run whose jobs a worker has not checked yet is handed to a worker again this often (the
# first task was lost, or K5 could not be asked) ...
PREPARE_RETRY = timedelta(minutes=2)
# ... and given up (recorded as not run) after this long.
PREPARE_GIVE_UP = timedelta(hours=1)
# Missed times are counted up to this many (every minute for a week); beyond, "more".
MAX_MISSED_COUNTED = 10_080
RECENT_RUNS = 10
PREPARE_LEASE = "prepare-run:"


# --- rules --------------------------------------------------------------------------------------


def check_cron(cron: str) -> str:
    """The expression with single spaces; Refusal (field `cron`) saying what is wrong."""
    fields = (cron or "").split()
    if len(fields) != len(CRON_FIELDS):
        raise Refusal(
            "invalid",
            interpolate_lazy(
                _(
                    "A cron expression has 5 fields (minute hour day-of-month month "
                    'day-of-week), e.g. "0 3 * * 1"; this one has %(count)d.'
                ),
                {"count": len(fields)},
            ),
            field="cron",
        )
    normalized = " ".join(fields)
    for position, name in enumerate(CRON_FIELDS):
        # Each field alone, the others "*": says which one is wrong.
        alone = ["*"] * len(CRON_FIELDS)
        alone[position] = fields[position]
        if not croniter.is_valid(" ".join(alone)):
            raise Refusal(
                "invalid",
                interpolate_lazy(
                    _("The cron expression's %(field)s field %(value)s is not valid."),
                    {"field": name, "value": repr(fields[position])},
                ),
                field="cron",
            )
    try:
        croniter(normalized, timezone.now()).get_next(datetime)
    except (CroniterError, ValueError):
        raise Refusal(
            "invalid",
            interpolate_lazy(
                _("The cron expression %(cron)s never matches a date."), {"cron": repr(normalized)}
            ),
            field="cron",
        ) from None
    return normalized


def check_time_zone(name: str) -> ZoneInfo:
    if name not in _zone_names():
        raise Refusal(
            "invalid",
            interpolate_lazy(
                _("%(zone)s is not a time zone name such as Asia/Tokyo or UTC."),
                {"zone": repr(name)},
            ),
            field="timezone",
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refusal("invalid", _("Unknown time zone."), field="timezone") from None


_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones() | {"UTC"})
    return _ZONES


def zone_of(schedule: Schedule) -> ZoneInfo:
    return ZoneInfo(schedule.time_zone)


def next_time(cron: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first time of `cron` (read in `zone`) strictly after `after`."""
    found = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return found.astimezone(ZoneInfo("UTC"))


def missed_times(schedule: Schedule, now: datetime) -> tuple[int, datetime | None, datetime]:
    """(how many times are due by `now`, the latest of them, the first one after `now`)."""
    assert schedule.next_run_at is not None
    zone = zone_of(schedule)
    times = croniter(schedule.cron, (schedule.next_run_at - timedelta(seconds=1)).astimezone(zone))
    count, latest = 0, None
    when = times.get_next(datetime)
    while when <= now and count < MAX_MISSED_COUNTED:
        count, latest = count + 1, when
        when = times.get_next(datetime)
    if when <= now:  # past the count: the next time is asked from now
        when = croniter(schedule.cron, now.astimezone(zone)).get_next(datetime)
    utc = ZoneInfo("UTC")
    return count, latest.astimezone(utc) if latest else None, when.astimezone(utc)


# --- what people do -----------------------------------------------------------------------------


@dataclass
class ScheduleRequest:
    project: K5Project
    name: str
    volume_ids: list[str]
    cron: str
    time_zone: str
    image_name_template: str
    keep: int
    preparation_confirmed: bool
    force: bool = False
    enabled: bool = True
    automation: str = Automation.NONE


def check_schedule(request: ScheduleRequest, user) -> tuple[str, ZoneInfo]:
    """What a schedule must be, made or changed: the role, a name, the cron, the zone, the
    template, the keep count, the preparation confirmed (its volumes are checked at each run,
    as a batch's are). Returns the cron as stored and the zone."""
    if not can_submit(user, request.project):
        raise Refusal(
            "forbidden", _("Viewers cannot create schedules; ask a project admin for the role.")
        )
    if not request.name.strip():
        raise Refusal("invalid", _("The schedule needs a name."), field="name")
    cron = check_cron(request.cron)
    zone = check_time_zone(request.time_zone)
    if request.keep < 1:
        raise Refusal("invalid", _("Keep at least 1 image per volume."), field="keep")
    if not request.preparation_confirmed:
        raise Refusal(
            "preparation_required",
            _(
                "Confirm that every volume is prepared as the vendor requires (Linux: network "
                "settings removed; Windows: Sysprep run) before each run."
            ),
            field="preparation_confirmed",
        )
    check_request(
        BatchRequest(
            project=request.project,
            volume_ids=request.volume_ids,
            image_name_template=request.image_name_template,
            preparation_confirmed=True,
            automation=request.automation,
        ),
        user,
    )
    return cron, zone


def create_schedule(request: ScheduleRequest, *, user, channel: str) -> Schedule:
    """Check and save a schedule (`check_schedule`)."""
    cron, zone = check_schedule(request, user)
    now = timezone.now()
    try:
        with transaction.atomic():
            schedule = Schedule.objects.create(
                project=request.project,
                name=request.name.strip(),
                volume_ids=list(request.volume_ids),
                cron=cron,
                time_zone=request.time_zone,
                image_name_template=request.image_name_template,
                keep=request.keep,
                force=request.force,
                automation=request.automation,
                preparation_confirmed=True,
                enabled=request.enabled,
                next_run_at=next_time(cron, zone, now) if request.enabled else None,
                created_by=user,
                created_by_name=user.get_username(),
                channel=channel,
            )
            _record(
                schedule,
                said(
                    "schedule.created",
                    schedule=schedule.name,
                    cron=cron,
                    time_zone=schedule.time_zone,
                    keep=schedule.keep,
                ),
                actor=user,
            )
    except IntegrityError:
        raise Refusal(
            "invalid", _("A schedule of this name exists in the project."), field="name"
        ) from None
    return schedule


# What a change may set: ScheduleRequest's fields of the schedule's own names.
CHANGEABLE = (
    "name",
    "volume_ids",
    "cron",
    "time_zone",
    "image_name_template",
    "keep",
    "force",
    "automation",
)


def change_schedule(schedule: Schedule, user, changes: dict, *, confirmed: bool) -> Schedule:
    """Change what a schedule does, checked as when it was made. Its runs, batches and the
    images they made stay; retention applies the new `keep` from the next succeeded job on
    (the page's dry run shows what that would delete). Another cron or zone moves the next
    run. Adding volumes or changing the automation needs the preparation confirmed again
    (`confirmed`). Returns the schedule; nothing changed records nothing."""
    _require_manage(schedule, user)
    current = {key: getattr(schedule, key) for key in CHANGEABLE}
    wanted = {**current, **{key: changes[key] for key in CHANGEABLE if key in changes}}
    wanted["name"] = wanted["name"].strip()
    changed = [key for key in CHANGEABLE if wanted[key] != current[key]]
    if not changed:
        return schedule
    # New volumes, or another procedure around each upload: the preparation asked again.
    added = set(wanted["volume_ids"]) - set(current["volume_ids"])
    needs_confirmation = bool(added) or "automation" in changed
    cron, zone = check_schedule(
        ScheduleRequest(
            project=schedule.project,
            preparation_confirmed=confirmed or not needs_confirmation,
            enabled=schedule.enabled,
            **wanted,
        ),
        user,
    )
    fields = {key: wanted[key] for key in changed}
    fields["cron"] = cron
    if schedule.enabled and {"cron", "time_zone"} & set(changed):
        fields["next_run_at"] = next_time(cron, zone, timezone.now())
    what = "; ".join(f"{key}: {_shown(current[key])} → {_shown(wanted[key])}" for key in changed)
    try:
        with transaction.atomic():
            Schedule.objects.filter(pk=schedule.pk).update(**fields)
            _record(
                schedule,
                said("schedule.changed", schedule=wanted["name"], changes=what),
                actor=user,
                detail={"changed": changed, "volume_ids": wanted["volume_ids"]},
            )
    except IntegrityError:
        raise Refusal(
            "invalid", _("A schedule of this name exists in the project."), field="name"
        ) from None
    schedule.refresh_from_db()
    return schedule


def _shown(value) -> str:
    """A value in the history's one-line account of a change (volumes: how many; which ones
    are in the event's detail and on the schedule's page)."""
    return str(len(value)) if isinstance(value, list) else str(value)


def set_enabled(schedule: Schedule, user, enabled: bool) -> Schedule:
    """Pause (no run until resumed) or resume (from the next time to come: times passed while
    paused are not run)."""
    _require_manage(schedule, user)
    if schedule.enabled == enabled:
        return schedule
    following = next_time(schedule.cron, zone_of(schedule), timezone.now()) if enabled else None
    with transaction.atomic():
        Schedule.objects.filter(pk=schedule.pk).update(enabled=enabled, next_run_at=following)
        code = "schedule.resumed" if enabled else "schedule.paused"
        _record(schedule, said(code, schedule=schedule.name), actor=user)
    schedule.enabled, schedule.next_run_at = enabled, following
    return schedule


def delete_schedule(schedule: Schedule, user) -> None:
    """No run after this; its batches, jobs and images stay (retention stops with it)."""
    _require_manage(schedule, user)
    with transaction.atomic():
        _record(
            schedule,
            said("schedule.deleted", schedule=schedule.name),
            actor=user,
        )
        schedule.delete()


def _require_manage(schedule: Schedule, user) -> None:
    if not can_act_on_schedule(user, schedule):
        raise Refusal(
            "forbidden",
            _("Only the member who created this schedule, or a project admin, may do that."),
        )


def _record(schedule: Schedule, message: Said, *, actor=None, detail: dict | None = None) -> None:
    JobEvent.record(
        project_id=schedule.project_id,
        job_id=None,
        kind=EventKind.ACTION,
        message=message,
        actor=actor,
        actor_name=None if actor is not None else schedule.actor_name,
        detail={"schedule": schedule.pk, **(detail or {})},
    )


def recent_runs(schedule: Schedule, count: int = RECENT_RUNS) -> list[Batch]:
    return recent_runs_of([schedule], count)[schedule.pk]


def recent_runs_of(schedules: list[Schedule], count: int = RECENT_RUNS) -> dict[int, list[Batch]]:
    """The newest `count` runs of each schedule, newest first, in one query however many
    runs each has had (a schedule every minute has thousands)."""
    runs: dict[int, list[Batch]] = {schedule.pk: [] for schedule in schedules}
    newest_first = [F("created_at").desc(), F("id").desc()]
    ranked = (
        Batch.objects.filter(schedule__in=list(runs))
        .annotate(rank=Window(RowNumber(), partition_by=[F("schedule_id")], order_by=newest_first))
        .filter(rank__lte=count)
        .order_by("schedule_id", *newest_first)
    )
    for batch in ranked:
        runs[cast(int, batch.schedule_id)].append(batch)  # filtered on it: never None
    return runs


# --- the engine's step ------------------------------------------------------------------------


def run_due(now: datetime | None = None) -> list[Batch]:
    """Start every enabled schedule's run that is due (one tick's step); hand runs a worker
    has not prepared to a worker again. Returns the batches started."""
    now = now or timezone.now()
    started = []
    due = Schedule.objects.filter(enabled=True, next_run_at__lte=now).order_by("next_run_at")
    for schedule in due:
        try:
            batch = _start_run(schedule, now)
        except Exception:
            logger.exception("schedule %s could not be run", schedule.pk)
            continue
        if batch is not None:
            started.append(batch)
    _prepare_again(now)
    return started


def _start_run(schedule: Schedule, now: datetime) -> Batch | None:
    count, latest, following = missed_times(schedule, now)
    with transaction.atomic():
        claimed = Schedule.objects.filter(
            pk=schedule.pk, enabled=True, next_run_at=schedule.next_run_at
        ).update(next_run_at=following, last_run_at=now)
        if not claimed:
            return None  # another host ran it, or it was paused meanwhile
        batch = Batch.objects.create(
            project_id=schedule.project_id,
            schedule=schedule,
            due_at=latest or schedule.next_run_at,
            missed_runs=max(count - 1, 0),
            volume_ids=list(schedule.volume_ids),
            image_name_template=schedule.image_name_template,
            force=schedule.force,
            automation=schedule.automation,
            requested_by_id=schedule.created_by_id,
            requested_by_name=schedule.created_by_name,
            channel=schedule.channel,
            prepare_requested_at=now,
        )
        message = said("schedule.run_started", due_at=batch.due_at, batch=batch.pk)
        if count > 1:
            more = "+" if count >= MAX_MISSED_COUNTED else ""
            message = said(
                "schedule.run_started_missed",
                due_at=batch.due_at,
                batch=batch.pk,
                count=f"{count}{more}",
            )
        _record(schedule, message, detail={"batch": batch.pk, "times_due": count})
        dispatch.enqueue(dispatch.PREPARE_SCHEDULED_RUN, batch.pk)
    return batch


def _prepare_again(now: datetime) -> None:
    stale = Batch.objects.filter(
        schedule__isnull=False,
        prepared_at__isnull=True,
        prepare_requested_at__lte=now - PREPARE_RETRY,
    ).values_list("pk", "prepare_requested_at")
    for pk, requested in stale:
        with transaction.atomic():
            if Batch.objects.filter(pk=pk, prepare_requested_at=requested).update(
                prepare_requested_at=now
            ):
                dispatch.enqueue(dispatch.PREPARE_SCHEDULED_RUN, pk)


def prepare_run(batch_id: int) -> str:
    """Check and queue the jobs of one schedule run (a worker's task). A volume that fails its
    checks (one with an active job: busy) is skipped and recorded; the others are queued."""
    batch = (
        Batch.objects.select_related("schedule", "schedule__created_by", "project")
        .filter(pk=batch_id, prepared_at__isnull=True)
        .first()
    )
    if batch is None:
        return "already prepared"
    # A second worker given the same run (handed over again while the first was still
    # checking) leaves it to the first.
    lease, holder = f"{PREPARE_LEASE}{batch.pk}", uuid.uuid4().hex
    if not EngineLease.acquire(lease, holder, PREPARE_GIVE_UP.total_seconds()):
        return "being prepared by another worker"
    try:
        return _prepare(batch)
    finally:
        EngineLease.release(lease, holder)


def _prepare(batch: Batch) -> str:
    schedule = batch.schedule
    if schedule is None:
        _not_run(batch, Refusal("not_found", _("The schedule was deleted before this run.")))
        return "schedule deleted"
    user = schedule.created_by
    request = BatchRequest(
        project=batch.project,
        volume_ids=list(batch.volume_ids),
        image_name_template=batch.image_name_template,
        preparation_confirmed=schedule.preparation_confirmed,
        force=batch.force,
        automation=batch.automation,
    )
    when = timezone.localtime(batch.due_at or timezone.now(), zone_of(schedule))
    try:
        if user is None or not user.is_active:
            raise Refusal("forbidden", _("The schedule's creator no longer has an account."))
        check_request(request, user)
        names = image_names(request, when)
        queue_batch(batch, request, names, user=user, client_address=None, schedule=schedule)
    except K5NotAvailable as exc:
        if timezone.now() - batch.created_at < PREPARE_GIVE_UP:
            return f"K5 not available; tried again in {PREPARE_RETRY}: {exc.message}"
        _not_run(batch, exc)
        return "given up"
    except BatchRefused as refused:
        _finish(batch, refused.refused)
    except Refusal as refusal:
        _not_run(batch, refusal)
    batch.refresh_from_db()
    skipped = len(batch.refused)
    if skipped:
        _record(
            schedule,
            said(
                "schedule.volumes_skipped",
                batch=batch.pk,
                count=skipped,
                volumes=[
                    said(
                        "schedule.volume_skipped",
                        volume=r["volume_name"] or r["volume_id"],
                        reason=r.get("said") or {"text": r["message"]},
                    )
                    for r in batch.refused
                ],
            ),
            detail={"batch": batch.pk, "skipped": batch.refused},
        )
    return f"{batch.jobs.count()} job(s) queued, {skipped} skipped"


def _not_run(batch: Batch, refusal: Refusal) -> None:
    said_ = refusal.meaning
    _finish(
        batch,
        [
            {
                "volume_id": volume_id,
                "volume_name": "",
                "image_name": "",
                "code": refusal.code,
                "message": refusal.message,
                "field": refusal.field or "",
                "said": said_,
            }
            for volume_id in batch.volume_ids
        ],
    )


def _finish(batch: Batch, refused: list[dict]) -> None:
    Batch.objects.filter(pk=batch.pk, prepared_at__isnull=True).update(
        refused=refused, prepared_at=timezone.now()
    )
