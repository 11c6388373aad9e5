"""Batched polling: one volume list and one image list per project per tick, whatever the
number of jobs, and every active job of the project moved on from those two lists.

The image list is the oldest Glance's (see imaging.k5.image): newest first, followed until
an image older than the oldest watched job. Lists miss items — no Glance lists a `killed`
image, a page shifts while volumes are created or deleted, a replica lags — so an image or a
volume the list does not show is looked up once by id before anything is decided about its
job: nothing is declared gone from a list alone, and a missing volume never deletes an image.

A job that succeeded is still read from the image list for ENGINE_SYNC_WATCH_HOURS: K5 can
give its image a `sync_status_reason` after the settle window, and then it is not usable.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from imaging.engine.connections import client_for, mark_credentials_invalid
from imaging.engine.errors import CredentialsInvalid
from imaging.engine.k5calls import recording_calls
from imaging.engine.upload import CLOCK_SKEW, reconcile_submitting
from imaging.k5 import K5CredentialError, K5Error, K5NotFound, blockstorage, image
from imaging.k5.types import Image, Volume
from imaging.messages import Said, k5_words, said
from imaging.models import (
    Automation,
    EventKind,
    ImageJob,
    InvalidTransition,
    JobState,
    K5Project,
    SyncRole,
    SyncStatus,
    ZoneSyncResult,
)
from portal.logs import log_context
from portal.metrics import observe_detection_lag

logger = logging.getLogger(__name__)

POLLED_STATES = (JobState.SUBMITTING, JobState.UPLOADING, JobState.VERIFYING)
# Image states after which the image will never become active.
DEAD_IMAGE_STATES = frozenset({"killed", "deleted", "pending_delete", "deactivated"})
# Images of failed jobs that are only debris and are removed (an active image is left alone).
LEFTOVER_IMAGE_STATES = frozenset({"queued", "saving", "killed"})
# An image still being written.
UNFINISHED_IMAGE_STATES = frozenset({"queued", "saving"})
# Where Cinder puts a volume back when its copy has ended, successfully or not.
VOLUME_AT_REST = frozenset({"available", "in-use"})
SERVER_IN_REASON = re.compile(r"server\((?P<url>[^)]+)\)")


@dataclass
class PollResult:
    jobs: int = 0
    moved: dict[str, int] = field(default_factory=dict)
    error: str = ""


@dataclass
class Listing:
    """What K5 showed of one project, the lists a poll decides from — or why it could not be
    asked (`error`; then nothing is decided)."""

    volumes: dict[str, Volume] = field(default_factory=dict)
    images: list[Image] = field(default_factory=list)
    # The listed images and those looked up by id because the list left them out.
    images_by_id: dict[str, Image] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)  # images K5 could not be asked about
    # Volumes the list left out and K5 could not be asked about by id (a 404 is not here: a
    # volume absent from `volumes` and not here is gone).
    volumes_unknown: set[str] = field(default_factory=set)
    received_at: datetime | None = None
    error: str = ""
    rejected: K5CredentialError | None = None


def poll_project(project: K5Project, now: datetime | None = None) -> PollResult:
    jobs = polled_jobs(project)
    if not jobs:
        return PollResult()
    return apply_listing(project, jobs, fetch_listing(project, jobs), now)


def polled_jobs(project: K5Project) -> list[ImageJob]:
    """The jobs a poll follows: those K5 is working on, and those that succeeded within
    ENGINE_SYNC_WATCH_HOURS. Read before K5 is asked, so that the lists are never older than
    the states they are compared with."""
    jobs = list(
        ImageJob.objects.filter(
            Q(state__in=POLLED_STATES) | watched_after_success(timezone.now()), project=project
        ).order_by("created_at", "id")
    )
    for job in jobs:
        job.project = project  # read by the moves (settle window, zone map): no query per job
    return jobs


def watched_after_success(now: datetime) -> Q:
    """Jobs that succeeded recently enough that their image is still read for a late
    `sync_status_reason`."""
    hours = settings.ENGINE_SYNC_WATCH_HOURS
    return Q(state=JobState.SUCCEEDED, finished_at__gte=now - timedelta(hours=hours)) & ~Q(
        image_id=""
    )


def fetch_listing(project: K5Project, jobs: list[ImageJob]) -> Listing:
    """The K5 half of a poll: two lists, whatever the number of jobs (and a GET of an image
    or volume the list leaves out). The volume list is skipped when only succeeded jobs are
    watched. Writes no job, so it may run in a thread of its own (imaging.engine.poller);
    only signing in touches the database (the sign-in lease)."""
    try:
        client = client_for(project)
        volumes: dict[str, Volume] = {}
        volumes_unknown: set[str] = set()
        if any(job.state in (JobState.SUBMITTING, JobState.UPLOADING) for job in jobs):
            volumes = {volume.id: volume for volume in blockstorage.volume_list(client)}
            volumes_unknown = _look_up_unlisted_volumes(client, jobs, volumes)
        since = min(job.submit_started_at or job.created_at for job in jobs) - CLOCK_SKEW
        images = image.image_list_since(client, owner=project.k5_project_id, created_since=since)
        images_by_id = {found.id: found for found in images}
        unknown = _look_up_unlisted(client, jobs, images_by_id)
    except CredentialsInvalid as exc:
        return Listing(error=str(exc))
    except K5CredentialError as exc:
        return Listing(error=str(exc), rejected=exc)
    except K5Error as exc:
        # Nothing is decided on a failed poll; the next tick tries again.
        logger.warning("polling %s failed: %s", project.name, exc)
        return Listing(error=str(exc))
    return Listing(
        volumes=volumes,
        images=images,
        images_by_id=images_by_id,
        unknown=unknown,
        volumes_unknown=volumes_unknown,
        received_at=timezone.now(),
    )


def apply_listing(
    project: K5Project, jobs: list[ImageJob], listing: Listing, now: datetime | None = None
) -> PollResult:
    """The database half of a poll: every job moved on from the lists K5 gave."""
    result = PollResult(jobs=len(jobs))
    if listing.rejected is not None:
        mark_credentials_invalid(project, listing.rejected)
        result.error = project.credentials_error
        return result
    if listing.error:
        result.error = listing.error
        return result
    now = now or listing.received_at or timezone.now()
    volumes, images, images_by_id = listing.volumes, listing.images, listing.images_by_id
    # K5 answered: any "credentials invalid" or "unreachable" note on running jobs is history.
    ImageJob.objects.filter(
        project=project, state__in=(JobState.UPLOADING, JobState.VERIFYING)
    ).exclude(waiting_reason="").update(**ImageJob.said_fields(waiting_reason=""))
    watching = []
    for job in jobs:
        if job.image_id in listing.unknown or job.volume_id in listing.volumes_unknown:
            continue  # K5 could not say what became of its image: decided at a later tick
        try:
            with log_context(job_id=job.pk):
                outcome = advance_job(job, volumes, images_by_id, images, now)
        except InvalidTransition:
            continue  # another worker moved it first
        if outcome:
            result.moved[outcome] = result.moved.get(outcome, 0) + 1
        elif job.state == JobState.VERIFYING:
            watching.append(job.pk)
    if watching:
        # A job sits in its settle window for many ticks: one UPDATE for all of them, not
        # one per job per tick (1,000 verifying jobs doubled the tick's time).
        ZoneSyncResult.objects.filter(
            job_id__in=watching, role=SyncRole.REPLICA, status=SyncStatus.PENDING
        ).update(checked_at=now)
    return result


def _look_up_unlisted(client, jobs: list[ImageJob], images_by_id: dict[str, Image]) -> set[str]:
    """GET by id the images of followed jobs that the list did not show (a `killed` image
    never is). Costs nothing in the normal case, where every followed image is listed."""
    followed = (JobState.UPLOADING, JobState.VERIFYING)
    wanted = [job.image_id for job in jobs if job.state in followed and job.image_id]
    return _look_up_by_id(wanted, images_by_id, lambda i: image.image_get(client, i), "image")


def _look_up_unlisted_volumes(client, jobs: list[ImageJob], volumes: dict[str, Volume]) -> set[str]:
    """GET by id the volumes of jobs sending or uploading that the volume list did not show
    (a page shifted while volumes were created or deleted, a replica behind)."""
    sending = (JobState.SUBMITTING, JobState.UPLOADING)
    wanted = [job.volume_id for job in jobs if job.state in sending]
    return _look_up_by_id(wanted, volumes, lambda i: blockstorage.volume_get(client, i), "volume")


def _look_up_by_id(
    wanted: list[str], found: dict, get: Callable[[str], object], what: str
) -> set[str]:
    """GET by id, once each, the `wanted` ids missing from `found`; found ones join it, gone
    ones (404: K5 said so by id, not just by leaving them out of a list) stay out. Returns the
    ids K5 could not be asked about this time: nothing is decided about those."""
    unknown: set[str] = set()
    for item_id in wanted:
        if item_id in found or item_id in unknown:
            continue
        try:
            found[item_id] = get(item_id)
        except K5NotFound:
            continue
        except K5CredentialError:
            raise
        except K5Error as exc:
            logger.warning("looking up %s %s failed: %s", what, item_id, exc)
            unknown.add(item_id)
    return unknown


def advance_job(
    job: ImageJob,
    volumes: dict[str, Volume],
    images_by_id: dict[str, Image],
    images: list[Image],
    now: datetime,
) -> str | None:
    if job.state == JobState.SUBMITTING:
        return reconcile_submitting(job, volumes, images, now)
    if job.state == JobState.UPLOADING:
        return _follow_upload(job, volumes.get(job.volume_id), images_by_id.get(job.image_id), now)
    if job.state == JobState.VERIFYING:
        return _watch_sync(job, images_by_id.get(job.image_id), now)
    if job.state == JobState.SUCCEEDED:
        return _watch_after_success(job, images_by_id.get(job.image_id), now)
    return None


def _follow_upload(
    job: ImageJob, volume: Volume | None, found: Image | None, now: datetime
) -> str | None:
    """One look at a job whose copy K5 is making. `volume` is None only when K5 answered 404
    by id; `found` is None only when the image answered 404 by id."""
    if volume is None:
        # The image is not touched: the volume's absence says nothing about it, and K5 ends
        # (or already ended) the copy itself.
        return fail(
            job,
            said("upload.volume_deleted"),
            evidence={"volume": None, "image_status": found and found.status},
            clean_up=False,
        )
    at_rest = volume.status in VOLUME_AT_REST
    if found is None:
        if at_rest:
            # Cinder deletes the image of a copy that failed while it is still queued/saving,
            # then puts the volume back: the usual shape of a failed copy.
            return fail(
                job,
                said("upload.copy_failed_removed"),
                evidence={"volume_status": volume.status, "image": None},
            )
        return fail(
            job,
            said("upload.image_deleted"),
            evidence={"volume_status": volume.status, "image": None},
        )
    if found.status in DEAD_IMAGE_STATES:
        return fail(
            job,
            said("upload.image_ended", status=found.status),
            evidence={"volume_status": volume.status, "image_status": found.status},
            image_found=found,
        )
    if volume.status == "error":
        return fail(
            job,
            said("upload.volume_error"),
            evidence={"volume_status": volume.status, "image_status": found.status},
            image_found=found,
        )
    if found.status in UNFINISHED_IMAGE_STATES and at_rest:
        return _copy_ended_unfinished(job, volume, found, now)
    if job.copy_ended_seen_at is not None:
        # The image moved on (a lagging list had shown it unfinished): forget the sighting.
        ImageJob.objects.filter(pk=job.pk).update(copy_ended_seen_at=None)
        job.copy_ended_seen_at = None
    if found.status == "active" and volume.status != "uploading":
        size_gb = image_size_gb(found, job)
        settle = timedelta(seconds=job.project.sync_settle_seconds(size_gb))
        job.transition(
            JobState.VERIFYING,
            message=said(
                "image.active_checking_zones",
                settle_seconds=int(settle.total_seconds()),
                size_gb=size_gb,
            ),
            detail={
                "image_status": found.status,
                "volume_status": volume.status,
                "size_gb": size_gb,
                "settle_seconds": settle.total_seconds(),
            },
            upload_finished_at=now,
            sync_watch_until=now + settle,
        )
        job.zones.filter(role=SyncRole.SOURCE).update(status=SyncStatus.SYNCED, checked_at=now)
        observe_detection_lag(found.updated_at, now)
        return "verifying"
    started = job.submitted_at or job.submit_started_at or job.created_at
    elapsed = (now - started).total_seconds()
    limit = settings.ENGINE_STUCK_FACTOR * max(job.expected_seconds, 1)
    if elapsed > limit:
        return fail(
            job,
            said(
                "upload.stuck",
                elapsed_seconds=int(elapsed),
                factor=f"{settings.ENGINE_STUCK_FACTOR:g}",
                expected_seconds=job.expected_seconds,
            ),
            evidence={
                "volume_status": volume.status,
                "image_status": found.status,
                "elapsed_seconds": int(elapsed),
                "expected_seconds": job.expected_seconds,
            },
            clean_up=False,
        )
    return None


def _copy_ended_unfinished(
    job: ImageJob, volume: Volume, found: Image, now: datetime
) -> str | None:
    """The volume is back at rest, its image still queued/saving: Cinder's copy ended without
    finishing the image — usually because Glance refused the token Cinder copied with (the
    one that sent the upload) once it had expired; Cinder's own clean-up, with that token, is
    refused too. Decided on the second tick that shows it, since one list can lag the other;
    the leftover is then deleted by id with the portal's own (valid) token."""
    if job.copy_ended_seen_at is None:
        ImageJob.objects.filter(pk=job.pk).update(copy_ended_seen_at=now)
        job.copy_ended_seen_at = now
        return None
    return fail(
        job,
        said("upload.copy_stopped"),
        evidence={
            "volume_status": volume.status,
            "image_status": found.status,
            "first_seen_at": job.copy_ended_seen_at.isoformat(),
        },
        image_found=found,
    )


def image_size_gb(found: Image, job: ImageJob) -> int:
    """The image's size in GB (rounded up) as K5 reports it, else the volume's."""
    if found.size:
        return math.ceil(found.size / 1024**3)
    return job.volume_size_gb


def _watch_sync(job: ImageJob, found: Image | None, now: datetime) -> str | None:
    if found is None or found.status != "active":
        status = found.status if found else "gone"
        return fail(
            job,
            said("image.became_unusable", status=status),
            evidence={"image_status": status},
            clean_up=False,
        )
    reason = found.sync_status_reason
    if reason:
        return _sync_failed(job, reason, now)
    # Set by the one transition into VERIFYING, the only state whose jobs come here.
    assert job.sync_watch_until is not None
    if now >= job.sync_watch_until:
        job.zones.exclude(status=SyncStatus.FAILED).update(status=SyncStatus.SYNCED, checked_at=now)
        detail = {
            "image_id": found.id,
            "zones": list(
                job.zones.order_by("availability_zone").values_list("availability_zone", flat=True)
            ),
        }
        if job.automation == Automation.SYSPREP_ROUND_TRIP:
            # Only now may the Sysprep'd disk be restored: until the image is usable, the
            # remedy for a zone's failure is another upload from that disk.
            job.transition(
                JobState.FINISHING,
                message=said("image.synced_restoring"),
                detail=detail,
            )
            return "finishing"
        job.transition(
            JobState.SUCCEEDED,
            message=said("image.synced"),
            detail=detail,
        )
        return "succeeded"
    return None  # still watching: poll_project records the check for all such jobs at once


def _watch_after_success(job: ImageJob, found: Image | None, now: datetime) -> str | None:
    """A succeeded job's image, read from the list the poll made anyway (never by id: an
    image the list does not show — deleted by its owner, or older than the list went — is
    not the engine's business any more)."""
    if found is None or not found.sync_status_reason:
        return None
    return _sync_failed(job, found.sync_status_reason, now, late=True)


def _sync_failed(job: ImageJob, reason: str, now: datetime, *, late: bool = False) -> str:
    zone = _zone_of_reason(job.project, reason)
    replicas = job.zones.filter(role=SyncRole.REPLICA)
    failed = replicas.filter(availability_zone=zone) if zone else replicas
    code = ("sync.failed_late" if late else "sync.failed") + ("" if zone else "_unknown_zone")
    with transaction.atomic():
        failed.update(status=SyncStatus.FAILED, reason=reason, checked_at=now)
        job.transition(
            JobState.SYNC_FAILED,
            message=said(code, zone=zone, sync_status_reason=reason),
            detail={
                "sync_status_reason": reason,
                "zone": zone,
                "zones": list(failed.values_list("availability_zone", flat=True)),
                "after_success": late,
            },
            error_message=said(
                "error.sync_failed" if zone else "error.sync_failed_unknown_zone", zone=zone
            ),
            error_detail=reason,
        )
    return "sync_failed"


def _zone_of_reason(project: K5Project, reason: str) -> str | None:
    match = SERVER_IN_REASON.search(reason)
    if not match:
        return None
    url = match.group("url").rstrip("/")
    for server, zone in (project.sync_server_zones or {}).items():
        if server.rstrip("/") == url:
            return zone
    return None


def fail(
    job: ImageJob,
    message: Said,
    *,
    evidence: dict,
    image_found: Image | None = None,
    clean_up: bool = True,
) -> str:
    job.transition(
        JobState.FAILED,
        message=message,
        detail=evidence,
        error_message=message,
        error_detail=", ".join(f"{k}={v}" for k, v in evidence.items()),
    )
    if clean_up and image_found is not None and image_found.status in LEFTOVER_IMAGE_STATES:
        delete_leftover_image(job, image_found.id, image_found.status)
    return "failed"


def delete_leftover_image(job: ImageJob, image_id: str, status: str) -> bool:
    """Remove the debris of a failed job (recorded). A failure here is recorded, not raised."""
    try:
        client = client_for(job.project)
        with recording_calls(job):
            image.image_delete(client, image_id)
    except K5NotFound:
        return True
    except (K5Error, CredentialsInvalid) as exc:
        job.record(
            EventKind.NOTE,
            said("leftover.not_deleted", image_id=image_id, k5_says=k5_words(exc, detailed=True)),
        )
        return False
    job.record(
        EventKind.NOTE,
        said("leftover.deleted", status=status, image_id=image_id),
        detail={"image_id": image_id, "status": status},
    )
    return True
