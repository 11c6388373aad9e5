"""Many volumes at once: a batch (one image job per volume, each checked as a single
submission is), and a schedule that makes a batch at each cron time and keeps only the newest
images it made.

A batch's state is read from its jobs; its own row holds what was asked, what was refused and
why. A schedule's `next_run_at` is claimed with a conditional UPDATE by the engine tick
(imaging.engine.schedules), so that two hosts never both run one time.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imaging.messages import render_text
from imaging.models.jobs import Automation, Channel


class BatchState(models.TextChoices):
    PREPARING = "preparing", _("Preparing")  # a schedule's run, its jobs being checked
    RUNNING = "running", _("Running")  # some job has not ended
    SUCCEEDED = "succeeded", _("Succeeded")  # every volume's image succeeded
    PARTLY_FAILED = "partly_failed", _("Partly failed")  # some did, some did not
    FAILED = "failed", _("Failed")  # none did (or nothing could be queued)
    CANCELLED = "cancelled", _("Cancelled")  # every job was cancelled


class Schedule(models.Model):
    """Images of some volumes of one project at each time of a cron expression, keeping the
    newest `keep` succeeded ones per volume (older ones this schedule made are deleted)."""

    project = models.ForeignKey(
        "imaging.K5Project", on_delete=models.PROTECT, related_name="schedules"
    )
    name = models.CharField(max_length=100)
    volume_ids = models.JSONField(default=list)
    # Five fields (minute hour day-of-month month day-of-week), read in `time_zone`.
    cron = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64, default="UTC")
    image_name_template = models.CharField(max_length=255)
    keep = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    force = models.BooleanField(default=False)
    # What the portal does in K5 around each upload (imaging/engine/automation.py).
    automation = models.CharField(
        max_length=20, choices=Automation.choices, default=Automation.NONE
    )
    # The creator confirmed the vendor's preparation for every volume, for every run.
    preparation_confirmed = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    # The next cron time to run (UTC); the tick claims it by moving it on.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    # Runs submit as the creator: with their role, checked at each run.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_by_name = models.CharField(max_length=150)
    channel = models.CharField(max_length=4, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="one_schedule_name_per_project"
            )
        ]

    def __str__(self) -> str:
        return f"schedule {self.name} ({self.cron} {self.time_zone})"

    @property
    def actor_name(self) -> str:
        """Who the audit history names for what the schedule does by itself."""
        return f"schedule:{self.name}"


class Batch(models.Model):
    """One request for images of several volumes of one project (or one run of a schedule)."""

    project = models.ForeignKey("imaging.K5Project", on_delete=models.PROTECT, related_name="+")
    schedule = models.ForeignKey(
        Schedule, on_delete=models.SET_NULL, null=True, blank=True, related_name="batches"
    )
    # The cron time a schedule's batch ran for (null: a person's batch).
    due_at = models.DateTimeField(null=True, blank=True)
    # Cron times missed while the portal was down, run once by this batch.
    missed_runs = models.PositiveIntegerField(default=0)
    volume_ids = models.JSONField(default=list)
    image_name_template = models.CharField(max_length=255)
    all_or_nothing = models.BooleanField(default=False)
    force = models.BooleanField(default=False)
    # What the portal does in K5 around each upload (imaging/engine/automation.py).
    automation = models.CharField(
        max_length=20, choices=Automation.choices, default=Automation.NONE
    )
    # Volumes that got no job: [{volume_id, volume_name, code, message, field, said}]: `code`
    # the refusal's, `message` its English, `said` its text as meaning (imaging/engine/
    # errors.py, `meaning_of`; rows stored before it have none). Read through `refusals`.
    refused = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    channel = models.CharField(max_length=4, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # A schedule's run: set when a worker has checked and queued its jobs; until then the
    # tick hands it to a worker again every few minutes (imaging.engine.schedules).
    prepared_at = models.DateTimeField(null=True, blank=True)
    prepare_requested_at = models.DateTimeField(null=True, blank=True)
    # A tool's Idempotency-Key (API): the same key and request answer this batch again.
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=["schedule", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_batch_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} of {len(self.volume_ids)} volume(s)"

    @property
    def refusals(self) -> list[dict]:
        """`refused`, each row with `text`: why, in the active language."""
        return [{**row, "text": reason_of(row)} for row in self.refused]


def reason_of(row: dict, language: str | None = None) -> str:
    """Why a volume of a batch got no job, in `language` (default: the active one); a row
    stored before reasons were kept as meaning: its English."""
    if row.get("said"):
        return render_text(row["said"], language)
    return str(row.get("message", ""))
