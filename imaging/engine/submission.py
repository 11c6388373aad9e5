"""Turning a checked request into a queued job, and the zones its image must reach."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imaging import dispatch
from imaging.access import can_submit
from imaging.engine import automation
from imaging.engine.connections import client_for
from imaging.engine.errors import Refusal
from imaging.engine.validation import CheckedSubmission, Submission, check_submission
from imaging.k5 import K5Error, compute
from imaging.k5 import deadline as k5_deadline
from imaging.messages import said
from imaging.models import (
    Automation,
    Batch,
    EventKind,
    ImageJob,
    K5Project,
    SyncRole,
    ZoneSyncResult,
)

ZONE_CACHE = timedelta(hours=24)


def submit_job(
    submission: Submission,
    *,
    user,
    channel: str,
    client_address: str | None = None,
    idempotency_key: str = "",
    retry_of: ImageJob | None = None,
    batch: Batch | None = None,
) -> tuple[ImageJob, bool]:
    """Validate and queue a job. Returns (job, created); a replay of an idempotency key with
    the same request returns the original job and creates nothing. A batch submits each of
    its volumes through here (`batch`: the job belongs to it)."""
    if not can_submit(user, submission.project):
        raise Refusal(
            "forbidden", _("Viewers cannot create images; ask a project admin for the member role.")
        )
    fingerprint = request_fingerprint(submission)
    earlier = _earlier(user, idempotency_key)
    if earlier:
        return replayed(earlier, fingerprint), False
    try:
        # The one K5 conversation a person waits for: it gets a total time budget, so that a
        # slow K5 answers "nothing was queued" instead of holding the request (and a web
        # worker) for minutes.
        with k5_deadline.within(settings.K5_REQUEST_BUDGET_SECONDS):
            checked = check_submission(submission)
    except Refusal:
        # A replay racing its own original sees the original's job as "volume busy": the
        # answer it deserves is that job.
        earlier = _earlier(user, idempotency_key)
        if earlier:
            return replayed(earlier, fingerprint), False
        raise
    try:
        job = queue_checked(
            checked,
            user=user,
            channel=channel,
            client_address=client_address,
            idempotency_key=idempotency_key,
            retry_of=retry_of,
            batch=batch,
        )
    except IntegrityError:
        # Lost a race: another request created the job for this key or this volume first.
        earlier = _earlier(user, idempotency_key)
        if earlier:
            return replayed(earlier, fingerprint), False
        raise Refusal(
            "volume_busy",
            _(
                "Another image job for this volume is still running; "
                "wait for it to end or cancel it."
            ),
            field="volume_id",
        ) from None
    return job, True


def queue_checked(
    checked: CheckedSubmission,
    *,
    user,
    channel: str,
    client_address: str | None = None,
    idempotency_key: str = "",
    retry_of: ImageJob | None = None,
    batch: Batch | None = None,
) -> ImageJob:
    """Queue a job for a submission that `check_submission` has just passed: the second half
    of `submit_job`, which a batch calls for each volume once all of them are checked. Raises
    IntegrityError when another job took the volume (or the idempotency key) meanwhile."""
    with transaction.atomic():
        job = _create_job(
            checked,
            user=user,
            channel=channel,
            client_address=client_address,
            idempotency_key=idempotency_key,
            fingerprint=request_fingerprint(checked.submission),
            retry_of=retry_of,
            batch=batch,
        )
        # In the job's own transaction: a job that is saved has its start recorded too,
        # and the start goes to a worker after the commit (or with the tick, when the
        # broker is down then).
        dispatch.enqueue(dispatch.START_UPLOADS, job.project_id)
    return job


def request_fingerprint(s: Submission) -> str:
    data = [
        s.project.pk,
        s.volume_id,
        s.image_name,
        bool(s.force),
        bool(s.os_stopped_confirmed),
        bool(s.preparation_confirmed),
        s.os_family,
        s.disk_format or "raw",
        s.container_format or "bare",
    ]
    if s.automation != Automation.NONE:  # appended: earlier jobs' fingerprints stay valid
        data += [s.automation, bool(s.keep_snapshot)]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def _earlier(user, idempotency_key: str) -> ImageJob | None:
    if not idempotency_key:
        return None
    return ImageJob.objects.filter(requested_by=user, idempotency_key=idempotency_key).first()


Replayable = TypeVar("Replayable", ImageJob, Batch)


def replayed(job: Replayable, fingerprint: str) -> Replayable:
    """What a request made earlier with the same Idempotency-Key made (a job, or a batch), if
    this request is the same; else the key's reuse is refused."""
    if job.request_fingerprint != fingerprint:
        raise Refusal(
            "idempotency_conflict",
            _(
                "This Idempotency-Key was already used for a "
                "different request; use a new key for a new "
                "request."
            ),
        )
    return job


def _create_job(
    checked: CheckedSubmission,
    *,
    user,
    channel,
    client_address,
    idempotency_key,
    fingerprint,
    retry_of,
    batch=None,
) -> ImageJob:
    s = checked.submission
    volume = checked.volume
    inherited_snapshot = ""
    if retry_of is not None and s.automation == Automation.SYSPREP_ROUND_TRIP:
        inherited_snapshot = automation.handed_over_snapshot(retry_of)
    job = ImageJob.objects.create(
        project=s.project,
        volume_id=volume.id,
        volume=checked.volume_snapshot(),
        volume_size_gb=volume.size,
        volume_zone=volume.availability_zone or "",
        os_family=checked.os_family,
        image_name=s.image_name,
        # force only means something for an attached volume; K5 ignores it otherwise. An
        # automated job uploads its attached volume with the server stopped, so with force.
        force=(bool(s.force) or s.automation != Automation.NONE) and volume.status == "in-use",
        os_stopped_override=bool(
            s.os_stopped_confirmed and checked.server and checked.server["status"] != "SHUTOFF"
        ),
        preparation_confirmed=checked.preparation,
        requested_by=user,
        requested_by_name=user.get_username(),
        channel=channel,
        client_address=client_address,
        idempotency_key=idempotency_key or "",
        request_fingerprint=fingerprint,
        retry_of=retry_of,
        batch=batch,
        expected_seconds=checked.expected_seconds,
        automation=s.automation,
        state=automation.initial_state(s.automation),
        server_id=volume.attached_server_id or "" if s.automation != Automation.NONE else "",
        keep_snapshot=s.keep_snapshot and s.automation == Automation.SYSPREP_ROUND_TRIP,
        snapshot_id=inherited_snapshot,
    )
    automation.plan_steps(job, inherited_from=retry_of if inherited_snapshot else None)
    zones = project_zones(s.project)
    source = job.volume_zone
    ZoneSyncResult.objects.bulk_create(
        ZoneSyncResult(
            job=job,
            availability_zone=zone,
            role=SyncRole.SOURCE if zone == source else SyncRole.REPLICA,
        )
        for zone in sorted(set(zones) | ({source} if source else set()))
    )
    detail = {
        "volume": job.volume,
        "automation": job.automation,
        "force": job.force,
        "preparation": job.preparation_confirmed,
        "channel": channel,
        "client_address": client_address,
    }
    job.record(
        EventKind.ACTION,
        said("job.requested", image_name=job.image_name, volume=volume.name or volume.id),
        actor=user,
        detail=detail,
    )
    if job.os_stopped_override and checked.server:
        job.record(
            EventKind.ACTION,
            said(
                "job.os_stopped_confirmed",
                server=checked.server["name"],
                status=checked.server["status"],
            ),
            actor=user,
            detail={"server": checked.server},
        )
    job.record(
        EventKind.ACTION,
        said("job.preparation_confirmed", preparation=job.preparation_confirmed),
        actor=user,
    )
    if retry_of:
        retry_of.record(
            EventKind.ACTION,
            said("job.retried_as", job=job.pk),
            actor=user,
            detail={"retry": job.pk},
        )
    return job


def project_zones(project: K5Project) -> list[str]:
    """The region's availability zones: the override, else compute's list (cached a day)."""
    if project.availability_zones_override:
        return list(project.availability_zones_override)
    fresh = (
        project.availability_zones_refreshed_at
        and timezone.now() - project.availability_zones_refreshed_at < ZONE_CACHE
    )
    if project.availability_zones and fresh:
        return list(project.availability_zones)
    try:
        zones = sorted(
            z.name for z in compute.availability_zone_list(client_for(project)) if z.available
        )
    except K5Error:
        return list(project.availability_zones)  # keep the stale list rather than none
    K5Project.objects.filter(pk=project.pk).update(
        availability_zones=zones, availability_zones_refreshed_at=timezone.now()
    )
    project.availability_zones = zones
    return zones
