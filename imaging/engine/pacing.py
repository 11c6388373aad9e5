"""K5 allows a project only a few uploads per window (4 an hour). The budget is decided under
a lock on the project row, so any number of workers on any number of hosts never exceed it.

On PostgreSQL `select_for_update()` takes the row lock; on SQLite (one host) the settings open
every transaction with BEGIN IMMEDIATE, which serialises writers the same way.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from imaging.models import ImageJob, JobState, K5Project, UploadAttempt


@dataclass(frozen=True)
class Budget:
    limit: int
    used: int
    window_seconds: int
    next_slot_at: datetime | None  # None: a slot is free now

    @property
    def free(self) -> int:
        return max(self.limit - self.used, 0)


def counted_attempts(project: K5Project, now: datetime) -> list[datetime]:
    since = now - timedelta(seconds=project.upload_window_seconds)
    return list(
        UploadAttempt.objects.filter(project=project, sent_at__gt=since)
        .exclude(outcome__in=UploadAttempt.FREE_OUTCOMES)
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
    )


def budget(project: K5Project, now: datetime | None = None) -> Budget:
    now = now or timezone.now()
    sent = counted_attempts(project, now)
    window = timedelta(seconds=project.upload_window_seconds)
    next_slot = None
    if len(sent) >= project.upload_limit:
        next_slot = sent[len(sent) - project.upload_limit] + window
    return Budget(
        limit=project.upload_limit,
        used=len(sent),
        window_seconds=project.upload_window_seconds,
        next_slot_at=next_slot,
    )


def start_due_uploads(project: K5Project, now: datetime | None = None) -> list[ImageJob]:
    """Move the oldest queued jobs to `submitting`, as many as the window allows, and count
    an upload for each. The caller sends the calls after the commit."""
    now = now or timezone.now()
    with transaction.atomic():
        project = K5Project.objects.select_for_update().get(pk=project.pk)
        if not project.credentials_valid:
            return []
        free = project.upload_limit - len(counted_attempts(project, now))
        if free <= 0:
            return []
        started: list[ImageJob] = []
        queued = ImageJob.objects.filter(project=project, state=JobState.QUEUED).order_by(
            "created_at", "id"
        )[:free]
        for job in queued:
            if job.not_before and job.not_before > now:
                break  # K5 asked us to wait: the jobs behind it wait too, in order
            job.transition(
                JobState.SUBMITTING,
                message="Upload slot taken; sending to K5.",
                detail={"slot": len(started) + 1, "free_slots": free},
                submit_started_at=None,
                submit_attempts=job.submit_attempts + 1,
                waiting_reason="",
                not_before=None,
            )
            UploadAttempt.objects.create(project=project, job=job, sent_at=now)
            started.append(job)
    return started


def queue_forecast(
    project: K5Project, now: datetime | None = None, *, new_job: bool = False
) -> dict[int | None, tuple[int, datetime]]:
    """Queue position (1 = next) and estimated start of each queued job of the project; with
    `new_job`, also (under the key None) of a job that would be submitted now."""
    now = now or timezone.now()
    window = timedelta(seconds=project.upload_window_seconds)
    sent = counted_attempts(project, now)
    # When each of the `limit` slots is next free: the oldest uploads in the window free theirs
    # first; unused slots are free now.
    slots = [now] * max(project.upload_limit - len(sent), 0)
    slots += [when + window for when in sent[-project.upload_limit :]]
    heapq.heapify(slots)
    forecast: dict[int | None, tuple[int, datetime]] = {}
    queued: list[tuple[int | None, datetime | None]] = list(
        ImageJob.objects.filter(project=project, state=JobState.QUEUED)
        .order_by("created_at", "id")
        .values_list("pk", "not_before")
    )
    if new_job:
        queued.append((None, None))
    earliest = now
    for position, (pk, not_before) in enumerate(queued, start=1):
        start = max(heapq.heappop(slots), earliest, not_before or now)
        earliest = start  # in order: no job starts before the one ahead of it
        forecast[pk] = (position, start)
        heapq.heappush(slots, start + window)
    return forecast
