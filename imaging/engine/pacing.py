"""K5 allows a project only a few uploads per window (4 an hour). The budget is decided under
a lock on the project row, so any number of workers on any number of hosts never exceed it.

On PostgreSQL `select_for_update()` takes the row lock; on SQLite (one host) the settings open
every transaction with BEGIN IMMEDIATE, which serialises writers the same way.
"""

from __future__ import annotations

import operator
from bisect import insort
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import TypeVar

from django.db import transaction
from django.db.models import Case, Q, QuerySet, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from imaging.messages import said
from imaging.models import (
    Automation,
    ImageJob,
    JobState,
    JobStep,
    K5Project,
    StepName,
    StepState,
    UploadAttempt,
)


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
    return counted_attempts_of([project], now).get(project.pk, [])


def counted_attempts_of(projects: Iterable[K5Project], now: datetime) -> dict[int, list[datetime]]:
    """The uploads still counted in each project's window, oldest first, by project pk."""
    in_window = [
        Q(project=project, sent_at__gt=now - timedelta(seconds=project.upload_window_seconds))
        for project in projects
    ]
    if not in_window:
        return {}
    sent: dict[int, list[datetime]] = {}
    rows = (
        UploadAttempt.objects.filter(reduce(operator.or_, in_window))
        .exclude(outcome__in=UploadAttempt.FREE_OUTCOMES)
        .order_by("sent_at")
        .values_list("project_id", "sent_at")
    )
    for project_id, when in rows:
        sent.setdefault(project_id, []).append(when)
    return sent


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
        queued = (
            ImageJob.objects.filter(project=project, state=JobState.QUEUED)
            # A job whose automation step K5 refused waits for a person, not for a slot.
            .exclude(steps__state=StepState.FAILED)
            # A stop/start job sent back to the queue takes a slot once its server runs again
            # (imaging.engine.automation): its stop is then planned afresh.
            .exclude(
                pk__in=JobStep.objects.filter(
                    job__project=project,
                    job__state=JobState.QUEUED,
                    name=StepName.STOP_SERVER,
                    state=StepState.DONE,
                    sent_at__isnull=False,
                ).values("job_id")
            )
            .order_by("created_at", "id")[:free]
        )
        for job in queued:
            if job.not_before and job.not_before > now:
                break  # K5 asked us to wait: the jobs behind it wait too, in order
            detail = {"slot": len(started) + 1, "free_slots": free}
            if job.automation == Automation.STOP_START:
                # The slot is held while the server stops (imaging.engine.automation), so the
                # server is down for the copy only, not for a wait in the queue.
                job.transition(
                    JobState.PREPARING,
                    message=said("slot.taken_stopping_server"),
                    detail=detail,
                    submit_attempts=job.submit_attempts + 1,
                    waiting_reason="",
                    not_before=None,
                )
                UploadAttempt.objects.create(project=project, job=job, sent_at=now)
                continue
            job.transition(
                JobState.SUBMITTING,
                message=said("slot.taken"),
                detail=detail,
                submit_started_at=None,
                submit_attempts=job.submit_attempts + 1,
                waiting_reason="",
                not_before=None,
            )
            UploadAttempt.objects.create(project=project, job=job, sent_at=now)
            started.append(job)
    return started


Key = TypeVar("Key", bound=Hashable)


def free_slots(
    sent: list[datetime], limit: int, window: timedelta, now: datetime
) -> list[datetime]:
    """When each of the `limit` upload slots is next free: the oldest uploads in the window free
    theirs first; unused slots are free now."""
    return [now] * max(limit - len(sent), 0) + [when + window for when in sent[-limit:]]


def forecast_starts(
    slots: list[datetime],
    window: timedelta,
    now: datetime,
    marks: Iterable[tuple[int, datetime | None, Key]],
) -> dict[Key, tuple[int, datetime]]:
    """The estimated start of some jobs of one project's queue, as `start_due_uploads` would
    start them: in order, each when a slot is free, none before the one ahead of it nor before
    its `not_before`.

    `marks` are (position, not_before, key), by position (1 = next), without repeats: the jobs
    asked about and every queued job K5 told to wait (a `not_before` later than `now`). A job
    between them cannot be held up by its own `not_before` (it is at most `now`), so it is
    counted, not simulated: the cost does not grow with the queue.
    """
    forecast: dict[Key, tuple[int, datetime]] = {}
    earliest, started = now, 0
    for position, not_before, key in marks:
        slots, earliest = _start_unmarked(slots, earliest, window, position - 1 - started)
        start = max(slots[0], not_before or now)  # slots[0] >= earliest >= now
        slots = [*slots[1:], start + window]
        earliest, started = start, position
        forecast[key] = (position, start)
    return forecast


def _start_unmarked(
    slots: list[datetime], earliest: datetime, window: timedelta, count: int
) -> tuple[list[datetime], datetime]:
    """The slots (in order) and the last start after `count` more jobs that nothing but the slots
    holds up.

    No job starts before `earliest`, so a slot free earlier is as good as free at `earliest`.
    Then, while the slots' span is at most a window, each slot reused comes back after every
    other (a window later, and no earlier than the latest of them), so the jobs take the slots
    in turn, a window further each round.
    """
    slots = sorted(max(slot, earliest) for slot in slots)
    # A slot more than a window after the earliest comes from an upload counted after `now`
    # (another host's clock, or one sent while this forecast was read): step, as the queue would,
    # until the span is a window again; a skew of seconds costs a few steps.
    while count and slots[-1] > slots[0] + window:
        earliest = slots.pop(0)
        insort(slots, earliest + window)
        count -= 1
    if count:
        rounds, turn = divmod(count - 1, len(slots))
        earliest = slots[turn] + rounds * window
        slots = [slot + rounds * window for slot in slots[turn + 1 :]] + [
            slot + (rounds + 1) * window for slot in slots[: turn + 1]
        ]
    return slots, earliest


def _marks(
    queued: QuerySet[ImageJob], asked: list[int], now: datetime
) -> QuerySet[ImageJob, tuple[int, int, datetime | None, int]]:
    """(project, position, not_before, pk) of the `queued` jobs a forecast must place: the ones
    `asked` about and the ones K5 told to wait. The positions (1 = next) are numbered in the
    database, in one pass over each project's queue in (created_at, id) order, and only these
    rows leave it. (Counting the jobs ahead of each row instead costs a pass per row: 8 to 20
    times slower for a page of 50 queued jobs, measured on SQLite and PostgreSQL.)"""
    position = Window(RowNumber(), partition_by="project", order_by=["created_at", "id"])
    return (
        queued.alias(position=position)
        .annotate(mark=Case(When(Q(pk__in=asked) | Q(not_before__gt=now), then="position")))
        .filter(mark__isnull=False)
        .order_by()
        .values_list("project_id", "mark", "not_before", "pk")
    )


def queue_forecasts(
    jobs: Iterable[ImageJob], now: datetime | None = None
) -> dict[int, tuple[int, datetime]]:
    """Queue position (1 = next) and estimated start of each of `jobs` still queued, by pk.

    The jobs may belong to many projects (loaded with them: `select_related("project")`). Two
    queries whatever the number of jobs, projects or jobs ahead: the positions of these jobs
    and of the jobs K5 told to wait, then the uploads counted in those projects' windows. None
    if no job is queued.
    """
    queued = {job.pk: job for job in jobs if job.state == JobState.QUEUED}
    if not queued:
        return {}
    now = now or timezone.now()
    projects = {job.project_id: job.project for job in queued.values()}
    # The jobs queued after the last of these cannot hold them up: not numbered.
    ahead = ImageJob.objects.filter(
        project__in=list(projects),
        state=JobState.QUEUED,
        created_at__lte=max(job.created_at for job in queued.values()),
    )
    marks: dict[int, list[tuple[int, datetime | None, int]]] = {}
    still_queued: set[int] = set()  # projects with one of `jobs` still queued
    for project_id, position, not_before, pk in _marks(ahead, list(queued), now):
        marks.setdefault(project_id, []).append((position, not_before, pk))
        if pk in queued:
            still_queued.add(project_id)
    sent = counted_attempts_of([projects[pk] for pk in still_queued], now)
    forecasts: dict[int, tuple[int, datetime]] = {}
    for project_id in still_queued:
        project = projects[project_id]
        window = timedelta(seconds=project.upload_window_seconds)
        slots = free_slots(sent.get(project_id, []), project.upload_limit, window, now)
        found = forecast_starts(slots, window, now, sorted(marks[project_id]))
        forecasts.update((pk, found[pk]) for pk in found.keys() & queued.keys())
    return forecasts


def next_in_queue(project: K5Project, now: datetime | None = None) -> tuple[int, datetime]:
    """Where a job submitted now would stand in the project's queue, and when it would start."""
    now = now or timezone.now()
    queued = ImageJob.objects.filter(project=project, state=JobState.QUEUED)
    position = queued.count() + 1
    # A job queued since the count stands behind the new one: it cannot hold it up.
    marks: list[tuple[int, datetime | None, int | None]] = sorted(
        (place, not_before, pk)
        for _, place, not_before, pk in _marks(queued, [], now)
        if place < position
    )
    marks.append((position, None, None))
    window = timedelta(seconds=project.upload_window_seconds)
    slots = free_slots(counted_attempts(project, now), project.upload_limit, window, now)
    return forecast_starts(slots, window, now, marks)[None]
