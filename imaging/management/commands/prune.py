"""manage.py prune --before DATE [--output FILE] [--execute]

Removes what the portal no longer needs to keep online: jobs that ended before DATE, with their
audit events, zone results and upload attempts, and django-q task results older than DATE.
Jobs are first written to a JSON Lines file (Django's `jsonl` serialization, so
`manage.py loaddata FILE` puts them back), flushed to disk, and only then deleted.

A dry run by default: it says what it would export and delete, and touches nothing. Active
jobs are never pruned, whatever their age; neither is a finished job that a kept job retried
(the retry points at it). The audit trail is append-only for the application; this command,
run by an operator after the export, is the one way its rows leave the database.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.core import serializers
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from imaging.models import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    ImageJob,
    JobEvent,
    K5Project,
    UploadAttempt,
    ZoneSyncResult,
)

BATCH = 500


class Command(BaseCommand):
    help = (
        "Export jobs that ended before DATE (with their events, zone results and upload "
        "attempts) to a JSON Lines file, then delete them and old task results. Dry run "
        "unless --execute."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--before",
            required=True,
            help="YYYY-MM-DD or an ISO 8601 time; a date means its midnight in TIME_ZONE",
        )
        parser.add_argument(
            "--output",
            help="the JSON Lines file to write (must not exist); default: "
            "<PORTAL_VAR_DIR>/prune/jobs-before-DATE-<now>.jsonl",
        )
        parser.add_argument(
            "--execute", action="store_true", help="export and delete (default: only say what)"
        )

    def handle(self, *args, before: str, output: str | None, execute: bool, **options):
        cutoff = _parse_cutoff(before)
        _refuse_inside_a_pacing_window(cutoff)
        job_ids, kept_for_retries = prunable_job_ids(cutoff)
        self._describe(cutoff, job_ids, kept_for_retries)
        tasks = _old_task_results(cutoff)
        failures = tasks.filter(success=False).count()
        self.stdout.write(f"Task results older than that: {tasks.count()} ({failures} failed).")
        path = Path(output) if output else _default_output(cutoff)
        if not execute:
            self.stdout.write(
                f"Dry run: nothing written or deleted. With --execute the jobs go to {path} "
                "first, then are deleted."
            )
            return
        if job_ids:
            lines = export_jobs(job_ids, path)
            self.stdout.write(f"Exported {len(job_ids)} jobs ({lines} lines) to {path}.")
            deleted = delete_jobs(job_ids)
            summary = ", ".join(f"{n} {what}" for what, n in deleted.items())
            self.stdout.write(f"Deleted {summary}.")
        removed, _ = tasks.delete()
        self.stdout.write(f"Deleted {removed} task results.")

    def _describe(self, cutoff: datetime, job_ids: list[int], kept_for_retries: int) -> None:
        # Counted in batches: SQLite refuses a query with too many parameters.
        states: Counter = Counter()
        related: Counter = Counter()
        for batch in _batches(job_ids):
            states.update(ImageJob.objects.filter(pk__in=batch).values_list("state", flat=True))
            related["events"] += JobEvent.objects.filter(job_id__in=batch).count()
            related["zone results"] += ZoneSyncResult.objects.filter(job_id__in=batch).count()
            related["upload attempts"] += UploadAttempt.objects.filter(job_id__in=batch).count()
        by_state = ", ".join(f"{state} {n}" for state, n in sorted(states.items())) or "none"
        when = cutoff.isoformat()
        self.stdout.write(f"Jobs that ended before {when}: {len(job_ids)} ({by_state})")
        self.stdout.write(
            "  with "
            + ", ".join(
                f"{related[what]} {what}" for what in ("events", "zone results", "upload attempts")
            )
        )
        active = ImageJob.objects.filter(state__in=ACTIVE_STATES, created_at__lt=cutoff).count()
        if active:
            self.stdout.write(f"Kept: {active} active jobs created before then (never pruned).")
        if kept_for_retries:
            self.stdout.write(
                f"Kept: {kept_for_retries} ended jobs that a newer, kept job retried."
            )


def _parse_cutoff(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--before {value!r} is not a date (YYYY-MM-DD) or ISO 8601 time")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _refuse_inside_a_pacing_window(cutoff: datetime) -> None:
    """Upload attempts go with their jobs; the pacing window counts them, so a job inside it
    must stay or the portal would send more uploads than K5 allows."""
    window = K5Project.objects.aggregate(longest=models.Max("upload_window_seconds"))["longest"]
    latest = timezone.now() - timedelta(seconds=window or 3600)
    if cutoff > latest:
        raise CommandError(
            f"--before must be no later than {latest.isoformat(timespec='seconds')}: newer jobs "
            "still count against a project's upload window"
        )


def prunable_job_ids(cutoff: datetime) -> tuple[list[int], int]:
    """Ended jobs finished before `cutoff`, newest first, without those a kept job retried.

    Returns the ids and how many were kept back for that reason.
    """
    ended = ImageJob.objects.filter(state__in=TERMINAL_STATES).filter(
        models.Q(finished_at__lt=cutoff) | models.Q(finished_at__isnull=True, updated_at__lt=cutoff)
    )
    ids = set(ended.values_list("pk", flat=True))
    retries = list(ImageJob.objects.exclude(retry_of=None).values_list("pk", "retry_of_id"))
    kept = 0
    while True:
        # A retry that stays points at its original (PROTECT): the original stays too.
        pointed_at = {original for pk, original in retries if original in ids and pk not in ids}
        if not pointed_at:
            return sorted(ids, reverse=True), kept
        ids -= pointed_at
        kept += len(pointed_at)


def export_jobs(job_ids: list[int], path: Path) -> int:
    """Write the jobs and everything that hangs off them; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    serializer = serializers.get_serializer("jsonl")()
    lines = 0
    try:
        with path.open("x", encoding="utf-8") as stream:
            for batch in _batches(sorted(job_ids)):
                for queryset in (
                    ImageJob.objects.filter(pk__in=batch).order_by("pk"),
                    ZoneSyncResult.objects.filter(job_id__in=batch).order_by("pk"),
                    UploadAttempt.objects.filter(job_id__in=batch).order_by("pk"),
                    JobEvent.objects.filter(job_id__in=batch).order_by("pk"),
                ):
                    rows = list(queryset)
                    serializer.serialize(rows, stream=stream)
                    lines += len(rows)
            stream.flush()
            os.fsync(stream.fileno())
    except FileExistsError:
        raise CommandError(f"{path} exists; an export is never overwritten") from None
    return lines


def delete_jobs(job_ids: list[int]) -> dict[str, int]:
    """Delete in batches, newest first; each batch in one transaction."""
    deleted: Counter = Counter()
    for batch in _batches(job_ids):
        with transaction.atomic():
            # Append-only for the application (JobEvent's manager refuses); the base manager
            # is the operator's way, after the export.
            events, _ = JobEvent._base_manager.filter(job_id__in=batch).delete()
            jobs = ImageJob.objects.filter(pk__in=batch, state__in=TERMINAL_STATES)
            # Retries pointing at originals in the same batch (PROTECT) would stop the delete.
            jobs.exclude(retry_of=None).update(retry_of=None)
            _, per_model = jobs.delete()
        deleted["jobs"] += per_model.get(ImageJob._meta.label, 0)
        deleted["events"] += events
        deleted["zone results"] += per_model.get(ZoneSyncResult._meta.label, 0)
        deleted["upload attempts"] += per_model.get(UploadAttempt._meta.label, 0)
    return dict(deleted)


def _old_task_results(cutoff: datetime):
    from django_q.models import Task

    # Successes are also bounded by Q_CLUSTER["save_limit"]; failures only by this.
    return Task.objects.filter(stopped__lt=cutoff)


def _default_output(cutoff: datetime) -> Path:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    return Path(settings.VAR_DIR) / "prune" / f"jobs-before-{cutoff:%Y%m%d}-{stamp}.jsonl"


def _batches(ids: list[int]):
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]
