"""Retention: after a schedule's job succeeds, the images that schedule made for that volume
beyond its newest `keep` succeeded ones are deleted from K5.

Only on firm evidence (docs/reliability.md): a candidate is an image the portal itself created
and still tracks — the `image_id` of a job of this schedule, for this volume, that `succeeded`
and whose image the portal has not deleted. Never a job in any other state (one that failed or
whose sync failed keeps its image for a person to look at), never an image K5 marks
`protected`, never one another project owns. Each is looked up by id first: 404 means it is
already gone (recorded); any other K5 answer, or none, means nothing is deleted now — it is
tried again after the schedule's next success. Each deletion is recorded in the audit history
with the schedule as the actor and the image's id and name, and on its job
(`image_deleted_at`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from imaging.engine.connections import client_for
from imaging.engine.errors import CredentialsInvalid
from imaging.engine.k5calls import recording_calls
from imaging.k5 import K5Error, K5NotFound, image
from imaging.k5.types import Image
from imaging.messages import Said, k5_words, said
from imaging.models import EngineLease, EventKind, ImageJob, JobEvent, JobState, Schedule

logger = logging.getLogger(__name__)

LEASE = "retention:"
LEASE_SECONDS = 300


def kept_and_beyond(schedule: Schedule, volume_id: str) -> tuple[list[ImageJob], list[ImageJob]]:
    """The schedule's succeeded jobs of the volume whose image the portal has not deleted,
    newest first: (the newest `keep`, the ones beyond them)."""
    jobs = list(
        ImageJob.objects.filter(
            batch__schedule=schedule,
            volume_id=volume_id,
            state=JobState.SUCCEEDED,
            image_deleted_at__isnull=True,
        )
        .exclude(image_id="")
        .select_related("project")
        .order_by("-created_at", "-id")
    )
    return jobs[: schedule.keep], jobs[schedule.keep :]


def dry_run(schedule: Schedule) -> list[ImageJob]:
    """The images the next run would delete, if each of its jobs succeeds: for each volume of
    the schedule, the ones beyond the newest `keep - 1` (the new image is the newest). No K5
    call: a `protected` image among them is kept when the time comes."""
    doomed: list[ImageJob] = []
    for volume_id in schedule.volume_ids:
        kept, beyond = kept_and_beyond(schedule, volume_id)
        doomed.extend(kept[schedule.keep - 1 :] + beyond)
    return doomed


@dataclass
class Pruned:
    deleted: list[str]
    gone: list[str]
    kept: list[str]
    postponed: str = ""  # why nothing (more) was deleted now


def after_success(job_id: int) -> str:
    """The task queued when a job ends `succeeded`: prune its volume's images if a schedule
    made it."""
    job = (
        ImageJob.objects.select_related("batch__schedule", "project")
        .filter(pk=job_id, state=JobState.SUCCEEDED)
        .first()
    )
    if job is None or job.batch is None or job.batch.schedule is None:
        return "not a schedule's succeeded job"
    result = prune(job.batch.schedule, job.volume_id)
    if result.postponed:
        return f"postponed: {result.postponed}"
    return (
        f"deleted {len(result.deleted)}, already gone {len(result.gone)}, kept {len(result.kept)}"
    )


def prune(schedule: Schedule, volume_id: str) -> Pruned:
    """Delete the volume's images beyond the schedule's `keep` (one pruning at a time per
    schedule and volume, across hosts)."""
    lease, holder = f"{LEASE}{schedule.pk}:{volume_id}"[:64], uuid.uuid4().hex
    if not EngineLease.acquire(lease, holder, LEASE_SECONDS):
        return Pruned([], [], [], postponed="another worker is pruning this volume")
    try:
        return _prune(schedule, volume_id)
    finally:
        EngineLease.release(lease, holder)


def _prune(schedule: Schedule, volume_id: str) -> Pruned:
    kept, beyond = kept_and_beyond(schedule, volume_id)
    result = Pruned([], [], [])
    if not beyond:
        return result
    project = beyond[0].project
    # Every candidate is looked up before any is deleted: a K5 that cannot be asked about one
    # deletes none.
    found: dict[int, Image | None] = {}
    try:
        client = client_for(project)
        for job in beyond:
            with recording_calls(job):
                try:
                    found[job.pk] = image.image_get(client, job.image_id)
                except K5NotFound:
                    found[job.pk] = None
    except (K5Error, CredentialsInvalid) as exc:
        result.postponed = f"K5 could not be asked ({exc}); nothing deleted"
        _note(
            schedule,
            beyond[0],
            said("retention.postponed", k5_says=k5_words(exc, detailed=True)),
        )
        return result
    newest = [job.image_id for job in kept]
    for job in beyond:
        seen = found[job.pk]
        if seen is None:
            _mark_deleted(
                job,
                schedule,
                said(
                    "retention.gone", image_id=job.image_id, image_name=job.image_name, job=job.pk
                ),
                newest,
                gone=True,
            )
            result.gone.append(job.image_id)
        elif seen.protected:
            _note(
                schedule,
                job,
                said(
                    "retention.kept_protected",
                    image_id=job.image_id,
                    image_name=seen.name,
                    job=job.pk,
                ),
                image_id=job.image_id,
                image_name=seen.name,
            )
            result.kept.append(job.image_id)
        elif seen.owner and seen.owner != project.k5_project_id:
            _note(
                schedule,
                job,
                said("retention.kept_foreign", image_id=job.image_id, job=job.pk, owner=seen.owner),
                image_id=job.image_id,
            )
            result.kept.append(job.image_id)
        else:
            try:
                with recording_calls(job):
                    image.image_delete(client, job.image_id)
            except K5NotFound:
                _mark_deleted(
                    job,
                    schedule,
                    said("retention.gone", image_id=job.image_id, image_name=seen.name, job=job.pk),
                    newest,
                    gone=True,
                )
                result.gone.append(job.image_id)
                continue
            except (K5Error, CredentialsInvalid) as exc:
                result.postponed = f"deleting {job.image_id} failed ({exc})"
                _note(
                    schedule,
                    job,
                    said(
                        "retention.not_deleted",
                        image_id=job.image_id,
                        image_name=seen.name,
                        job=job.pk,
                        k5_says=k5_words(exc, detailed=True),
                    ),
                    image_id=job.image_id,
                )
                return result
            _mark_deleted(
                job,
                schedule,
                said(
                    "retention.deleted",
                    image_id=job.image_id,
                    image_name=seen.name,
                    job=job.pk,
                    schedule=schedule.name,
                    keep=schedule.keep,
                ),
                newest,
                name=seen.name,
            )
            result.deleted.append(job.image_id)
    return result


def _mark_deleted(
    job: ImageJob, schedule: Schedule, message: Said, newest: list[str], *, gone=False, name=None
) -> None:
    with transaction.atomic():
        ImageJob.objects.filter(pk=job.pk, image_deleted_at__isnull=True).update(
            image_deleted_at=timezone.now()
        )
        JobEvent.record(
            project_id=job.project_id,
            job_id=job.pk,
            kind=EventKind.ACTION,
            message=message,
            actor_name=schedule.actor_name,
            detail={
                "image_id": job.image_id,
                "image_name": name or job.image_name,
                "schedule": schedule.pk,
                "retention": "already_gone" if gone else "deleted",
                "kept": newest,
            },
        )


def _note(schedule: Schedule, job: ImageJob, message: Said, **detail) -> None:
    JobEvent.record(
        project_id=job.project_id,
        job_id=job.pk,
        kind=EventKind.NOTE,
        message=message,
        actor_name=schedule.actor_name,
        detail={"schedule": schedule.pk, **detail},
    )
