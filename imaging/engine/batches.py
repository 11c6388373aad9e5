"""Many volumes of one project at once: one image job per volume, each checked as a single
submission is (`check_submission`, then `queue_checked`: the two halves of `submit_job`), paced
by the project's upload budget like any other job.

Names come from a template (`{volume}`, `{date}`, `{time}`, `{seq}`) and are checked for length
and against each other before any volume is: a template that gives two volumes one name is
refused before anything is queued. Then each volume is checked against K5; one that fails is
listed with its reason and the rest go on — or, with `all_or_nothing`, nothing is queued.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imaging.access import can_act_on, can_submit
from imaging.engine.connections import client_for
from imaging.engine.errors import Refusal, english, interpolate_lazy
from imaging.engine.pacing import queue_forecasts
from imaging.engine.remedy import can_cancel, can_retry, cancel_job, queue_retry
from imaging.engine.submission import queue_checked, replayed
from imaging.engine.validation import (
    MAX_IMAGE_NAME,
    CheckedSubmission,
    Submission,
    check_submission,
    k5_not_available,
)
from imaging.k5 import K5Error, K5NotFound, blockstorage
from imaging.k5 import deadline as k5_deadline
from imaging.messages import said
from imaging.models import (
    ACTIVE_STATES,
    Automation,
    Batch,
    BatchState,
    EventKind,
    ImageJob,
    JobEvent,
    JobState,
    K5Project,
    Preference,
    Schedule,
    VolumeInventory,
)

PLACEHOLDERS = ("volume", "date", "time", "seq")
MAX_BATCH_VOLUMES = 100
VOLUME_BUSY = "volume_busy"


class BatchRefused(Refusal):
    """Nothing was queued: every volume failed its checks, or one did and the caller asked for
    all or nothing. `refused` lists each volume's reason; `fields` is the API's error fields."""

    def __init__(self, message, refused: list[dict]):
        super().__init__("batch_refused", message, field="volume_ids")
        self.refused = refused
        self.fields = {
            "volume_ids": [f"{r['volume_id']}: {r['message']}" for r in refused] or [self.message]
        }


@dataclass
class BatchRequest:
    project: K5Project
    volume_ids: list[str]
    image_name_template: str
    preparation_confirmed: bool
    force: bool = False
    all_or_nothing: bool = False
    # What the portal does around each upload (imaging.engine.automation); each volume is
    # checked for it as a single submission is.
    automation: str = Automation.NONE


# --- names ------------------------------------------------------------------------------------


def check_template(template: str) -> None:
    """A template whose placeholders are only {volume}, {date}, {time} and {seq}."""
    if not (template or "").strip():
        raise Refusal(
            "invalid", _("The image name template is required."), field="image_name_template"
        )
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        parts = [("", "{", "", None)]  # an unmatched brace
    unknown = [
        "{" + name + "}"
        for _text, name, spec, conversion in parts
        if name is not None and (name not in PLACEHOLDERS or spec or conversion)
    ]
    if unknown:
        raise Refusal(
            "invalid",
            interpolate_lazy(
                _(
                    "The image name template may use only {volume}, {date}, {time} and {seq} "
                    "(it has %(found)s); write {{ and }} for a brace."
                ),
                {"found": ", ".join(unknown)},
            ),
            field="image_name_template",
        )


def render_names(template: str, volumes: list[tuple[str, str]], when: datetime) -> list[str]:
    """One image name per (volume id, volume name), in order; `when` in the requester's (or
    the schedule's) time zone."""
    width = len(str(len(volumes)))
    return [
        template.format(
            volume=name or volume_id,
            date=when.strftime("%Y%m%d"),
            time=when.strftime("%H%M"),
            seq=str(n).zfill(width),
        )
        for n, (volume_id, name) in enumerate(volumes, start=1)
    ]


def check_names(names: list[str]) -> None:
    """Every name fits K5's limit and no two are equal — before anything is queued."""
    too_long = [name for name in names if len(name) > MAX_IMAGE_NAME]
    if too_long:
        raise Refusal(
            "invalid",
            interpolate_lazy(
                _("The template makes a name longer than %(limit)d characters: %(name)s."),
                {"limit": MAX_IMAGE_NAME, "name": repr(too_long[0][:60] + "…")},
            ),
            field="image_name_template",
        )
    if any(not name.strip() for name in names):
        raise Refusal(
            "invalid", _("The template makes an empty image name."), field="image_name_template"
        )
    twice = [name for name, count in Counter(names).items() if count > 1]
    if twice:
        raise Refusal(
            "image_name_duplicate",
            interpolate_lazy(
                _(
                    "The template gives two volumes the same image name %(name)s; add {volume} "
                    "or {seq}. Nothing was queued."
                ),
                {"name": repr(twice[0])},
            ),
            field="image_name_template",
        )


def volume_names(project: K5Project, volume_ids: list[str]) -> dict[str, str | None]:
    """Each volume's name, from the last K5 list, else asked of K5 by id (None: no such volume
    in this project). Raises K5NotAvailable when K5 cannot be asked."""
    listed = VolumeInventory.objects.filter(project=project).values_list("volumes", flat=True)
    known = {volume["id"]: volume.get("name") or "" for volume in listed.first() or []}
    names: dict[str, str | None] = {}
    for volume_id in volume_ids:
        if volume_id in known:
            names[volume_id] = known[volume_id]
            continue
        try:
            names[volume_id] = blockstorage.volume_get(client_for(project), volume_id).name
        except K5NotFound:
            names[volume_id] = None
        except K5Error as exc:
            raise k5_not_available(
                exc, _("K5 could not be asked about the volumes: %(message)s Try again shortly.")
            ) from None
    return names


# --- making a batch ---------------------------------------------------------------------------


def create_batch(
    request: BatchRequest,
    *,
    user,
    channel: str,
    client_address: str | None = None,
    when: datetime | None = None,
    keyed: tuple[str, str] = ("", ""),
) -> Batch:
    """Check and queue a person's batch; raises Refusal (or BatchRefused) with nothing queued.
    `keyed`: the tool's Idempotency-Key and the request's fingerprint (`create_batch_once`).

    Every K5 check of the batch shares one K5_REQUEST_BUDGET_SECONDS: the person waits for
    them. Volumes not reached in time are listed as K5 being slow."""
    check_request(request, user)
    # The requester's saved time zone — for a tool too, whose token's user the middleware that
    # activates a person's zone does not know yet (DRF authenticates inside the view).
    when = timezone.localtime(when or timezone.now(), Preference.zone_of(user))
    batch = Batch(
        project=request.project,
        volume_ids=list(request.volume_ids),
        image_name_template=request.image_name_template,
        all_or_nothing=request.all_or_nothing,
        force=request.force,
        automation=request.automation,
        requested_by=user,
        requested_by_name=user.get_username(),
        channel=channel,
        prepared_at=timezone.now(),
        idempotency_key=keyed[0],
        request_fingerprint=keyed[1],
    )
    with k5_deadline.within(settings.K5_REQUEST_BUDGET_SECONDS):
        names = image_names(request, when)
        return queue_batch(batch, request, names, user=user, client_address=client_address)


def create_batch_once(
    request: BatchRequest, *, user, channel: str, client_address: str | None, idempotency_key: str
) -> tuple[Batch, bool]:
    """`create_batch` for a tool that may send its request again (a timeout, a lost answer):
    with the same Idempotency-Key and request, the batch made the first time, and False."""
    if not idempotency_key:
        return create_batch(
            request, user=user, channel=channel, client_address=client_address
        ), True
    check_request(request, user)
    fingerprint = batch_fingerprint(request)
    earlier = Batch.objects.filter(requested_by=user, idempotency_key=idempotency_key).first()
    if earlier:
        return replayed(earlier, fingerprint), False
    try:
        batch = create_batch(
            request,
            user=user,
            channel=channel,
            client_address=client_address,
            keyed=(idempotency_key, fingerprint),
        )
    except (Refusal, IntegrityError):
        # Racing its own original: the original's jobs make every volume busy, or its batch
        # took the key first. The answer this request deserves is that batch.
        earlier = Batch.objects.filter(requested_by=user, idempotency_key=idempotency_key).first()
        if earlier:
            return replayed(earlier, fingerprint), False
        raise
    return batch, True


def batch_fingerprint(request: BatchRequest) -> str:
    data = [
        request.project.pk,
        list(request.volume_ids),
        request.image_name_template,
        bool(request.preparation_confirmed),
        bool(request.force),
        bool(request.all_or_nothing),
        request.automation,
    ]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def check_request(request: BatchRequest, user) -> None:
    if not can_submit(user, request.project):
        raise Refusal(
            "forbidden", _("Viewers cannot create images; ask a project admin for the member role.")
        )
    ids = request.volume_ids
    if not ids:
        raise Refusal("invalid", _("Choose at least one volume."), field="volume_ids")
    if len(ids) > MAX_BATCH_VOLUMES:
        raise Refusal(
            "invalid",
            interpolate_lazy(
                _("A batch has at most %(limit)d volumes (this one has %(count)d)."),
                {"limit": MAX_BATCH_VOLUMES, "count": len(ids)},
            ),
            field="volume_ids",
        )
    if len(set(ids)) != len(ids):
        raise Refusal("invalid", _("A volume is listed twice."), field="volume_ids")
    check_template(request.image_name_template)


def image_names(request: BatchRequest, when: datetime) -> dict[str, tuple[str | None, str]]:
    """(volume name, image name) by volume id; raises Refusal for a template problem."""
    found = volume_names(request.project, request.volume_ids)
    pairs = [(volume_id, found[volume_id] or "") for volume_id in request.volume_ids]
    images = render_names(request.image_name_template, pairs, when)
    check_names(images)
    return {
        volume_id: (found[volume_id], image)
        for volume_id, image in zip(request.volume_ids, images, strict=True)
    }


@dataclass
class _Checked:
    volume_id: str
    volume_name: str
    checked: CheckedSubmission | None = None
    refusal: dict | None = None
    extra: dict = field(default_factory=dict)


def queue_batch(
    batch: Batch,
    request: BatchRequest,
    names: dict[str, tuple[str | None, str]],
    *,
    user,
    client_address: str | None,
    schedule: Schedule | None = None,
) -> Batch:
    results = [
        _check_one(request, volume_id, *names[volume_id]) for volume_id in request.volume_ids
    ]
    refused = [r.refusal for r in results if r.refusal is not None]
    if request.all_or_nothing and refused:
        raise BatchRefused(_all_or_nothing_message(refused), refused)
    if len(refused) == len(results) and schedule is None:
        raise BatchRefused(_("No volume could be queued; nothing was."), refused)
    with transaction.atomic():
        if batch.pk is None:
            batch.save()
        for result in results:
            if result.checked is None:
                continue
            try:
                with transaction.atomic():
                    job = queue_checked(
                        result.checked,
                        user=user,
                        channel=batch.channel,
                        client_address=client_address,
                        batch=batch,
                    )
            except IntegrityError:
                # Another job took the volume since it was checked.
                if request.all_or_nothing:  # leaving the transaction undoes the others
                    refusal = _busy(result.volume_id, result.volume_name)
                    raise BatchRefused(_all_or_nothing_message([refusal]), [refusal]) from None
                result.refusal = _busy(result.volume_id, result.volume_name)
                refused.append(result.refusal)
                continue
            _record_origin(job, batch, schedule)
        Batch.objects.filter(pk=batch.pk).update(refused=refused, prepared_at=timezone.now())
    batch.refused = refused
    return batch


def _check_one(request: BatchRequest, volume_id: str, volume_name: str | None, image: str):
    if volume_name is None:
        return _Checked(
            volume_id,
            "",
            refusal=_refusal_row(
                volume_id, "", Refusal("not_found", _("No such volume in this project."))
            ),
        )
    submission = Submission(
        project=request.project,
        volume_id=volume_id,
        image_name=image,
        preparation_confirmed=request.preparation_confirmed,
        force=request.force,
        automation=request.automation,
    )
    try:
        return _Checked(volume_id, volume_name, checked=check_submission(submission))
    except Refusal as refusal:
        return _Checked(
            volume_id, volume_name, refusal=_refusal_row(volume_id, volume_name, refusal, image)
        )


def _refusal_row(volume_id: str, volume_name: str, refusal: Refusal, image: str = "") -> dict:
    return {
        "volume_id": volume_id,
        "volume_name": volume_name,
        "image_name": image,
        "code": refusal.code,
        "message": refusal.message,
        "field": refusal.field or "",
        "said": refusal.meaning,
    }


def _busy(volume_id: str, volume_name: str) -> dict:
    return _refusal_row(
        volume_id,
        volume_name,
        Refusal(
            VOLUME_BUSY,
            _(
                "Another image job for this volume is still running; "
                "wait for it to end or cancel it."
            ),
        ),
    )


def _all_or_nothing_message(refused: list[dict]):
    return interpolate_lazy(
        _(
            "%(count)d volume(s) failed their checks and the batch asked for all or nothing, so "
            "nothing was queued."
        ),
        {"count": len(refused)},
    )


def _record_origin(job: ImageJob, batch: Batch, schedule: Schedule | None) -> None:
    if schedule is None:
        job.record(
            EventKind.NOTE, said("job.part_of_batch", batch=batch.pk), detail={"batch": batch.pk}
        )
        return
    JobEvent.record(
        project_id=job.project_id,
        job_id=job.pk,
        kind=EventKind.ACTION,
        message=said(
            "job.queued_by_schedule", schedule=schedule.name, due_at=batch.due_at, batch=batch.pk
        ),
        actor_name=schedule.actor_name,
        detail={"batch": batch.pk, "schedule": schedule.pk},
    )


# --- what a batch shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSummary:
    batch: Batch
    jobs: list[ImageJob]  # every job, retried ones too, newest attempt per volume last
    current: list[ImageJob]  # the latest attempt per volume (a retry replaces its job)
    state: str
    counts: dict[str, int]
    expected_end: datetime | None
    forecasts: dict[int, tuple[int, datetime]]

    @property
    def state_label(self):
        return BatchState(self.state).label


def summarize(batch: Batch, now: datetime | None = None) -> BatchSummary:
    return summarize_all([batch], now)[0]


def summarize_all(batches: list[Batch], now: datetime | None = None) -> list[BatchSummary]:
    """Each batch's summary, in order, in three queries whatever their number: their jobs,
    then the queue forecasts of those still queued (`queue_forecasts`, shared)."""
    now = now or timezone.now()
    jobs: dict[int, list[ImageJob]] = {batch.pk: [] for batch in batches}
    for job in (
        ImageJob.objects.filter(batch__in=list(jobs))
        .select_related("project")
        .order_by("created_at", "id")
    ):
        jobs[cast(int, job.batch_id)].append(job)  # filtered on it: never None
    current: dict[int, list[ImageJob]] = {}
    for pk, of_batch in jobs.items():
        retried = {job.retry_of_id for job in of_batch if job.retry_of_id}
        current[pk] = [job for job in of_batch if job.pk not in retried]
    forecasts = queue_forecasts([job for of_batch in current.values() for job in of_batch], now)
    return [
        BatchSummary(
            batch=batch,
            jobs=jobs[batch.pk],
            current=current[batch.pk],
            state=batch_state(batch, current[batch.pk]),
            counts=dict(Counter(job.state for job in current[batch.pk])),
            expected_end=expected_end(current[batch.pk], forecasts, now),
            forecasts=forecasts,
        )
        for batch in batches
    ]


def batch_state(batch: Batch, current: list[ImageJob]) -> str:
    if batch.prepared_at is None:
        return BatchState.PREPARING
    states = {job.state for job in current}
    if states & ACTIVE_STATES:
        return BatchState.RUNNING
    if current and states == {JobState.CANCELLED}:
        return BatchState.CANCELLED
    succeeded = sum(job.state == JobState.SUCCEEDED for job in current)
    if succeeded and succeeded == len(current) and not batch.refused:
        return BatchState.SUCCEEDED
    return BatchState.PARTLY_FAILED if succeeded else BatchState.FAILED


def expected_end(
    current: list[ImageJob], forecasts: dict[int, tuple[int, datetime]], now: datetime
) -> datetime | None:
    """When the last job still running should end: its (expected) start, its copy, and the
    settle window its zones are watched for. None once every job has ended."""
    ends = []
    for job in current:
        settle = timedelta(seconds=job.project.sync_settle_seconds(job.volume_size_gb))
        copy = timedelta(seconds=job.expected_seconds)
        if job.state == JobState.QUEUED:
            start = forecasts[job.pk][1] if job.pk in forecasts else now
            ends.append(max(start, now) + copy + settle)
        elif job.state == JobState.VERIFYING and job.sync_watch_until:
            ends.append(max(job.sync_watch_until, now))
        elif job.state in ACTIVE_STATES:
            ends.append(max((job.submitted_at or now) + copy, now) + settle)
    return max(ends) if ends else None


# --- what people do to a batch ----------------------------------------------------------------


def can_act_on_batch(batch: Batch, user) -> bool:
    """Cancel or retry-failed: whoever may act on one of its jobs (the requester, an admin)."""
    jobs = list(batch.jobs.select_related("project")[:1])
    return bool(jobs) and can_act_on(user, jobs[0])


def cancel_batch(batch: Batch, user) -> list[ImageJob]:
    """Cancel every job of the batch not yet sent to K5 (queued); the rest run on."""
    jobs = list(batch.jobs.select_related("project").filter(state=JobState.QUEUED))
    if not can_act_on_batch(batch, user):
        raise Refusal(
            "forbidden",
            _("Only the member who requested this batch, or a project admin, may do that."),
        )
    cancelled = []
    for job in jobs:
        if not can_cancel(job, user):
            continue
        try:
            cancelled.append(cancel_job(job, user))
        except Refusal:
            continue  # it was sent meanwhile
    if not cancelled:
        raise Refusal("not_allowed", _("No job of this batch is still waiting to be sent."))
    return cancelled


@dataclass(frozen=True)
class RetriedJob:
    old: ImageJob
    new: ImageJob | None
    refusal: Refusal | None


def retry_failed(
    batch: Batch, user, *, channel: str, client_address: str | None = None
) -> list[RetriedJob]:
    """Retry each failed or sync-failed job of the batch (once each, as a single retry); the
    new jobs join the batch. A job whose retry is refused is listed with the reason."""
    if not can_act_on_batch(batch, user):
        raise Refusal(
            "forbidden",
            _("Only the member who requested this batch, or a project admin, may do that."),
        )
    failed = [
        job
        for job in batch.jobs.select_related("project").order_by("created_at", "id")
        if can_retry(job, user)
    ]
    if not failed:
        raise Refusal("not_allowed", _("No job of this batch failed (or each was retried)."))
    results = []
    for job in failed:
        try:
            queued = queue_retry(job, user, channel=channel, client_address=client_address)
        except Refusal as refusal:
            results.append(RetriedJob(job, None, refusal))
            continue
        ImageJob.objects.filter(pk=queued.job.pk).update(batch=batch)
        queued.job.batch = batch
        results.append(RetriedJob(job, queued.job, None))
    return results


def refusal_text(row: dict) -> str:
    """A refused volume in one line (English, for the API's message)."""
    return english(f"{row.get('volume_name') or row['volume_id']}: {row['message']}")
