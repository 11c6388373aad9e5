"""The steps of a job's automation (imaging/engine/automation.py): what the portal does in K5
around the upload, each claimed, retried and recorded on its own."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imaging.messages import Said, label_params, text_of


class StepName(models.TextChoices):
    SNAPSHOT = "snapshot", _("Take a snapshot of the volume")
    AWAIT_SHUTDOWN = "await_shutdown", _("Wait for Sysprep to shut the server down")
    STOP_SERVER = "stop_server", _("Stop the server")
    UPLOAD = "upload", _("Create the image")
    RESTORE_SNAPSHOT = "restore_snapshot", _("Restore the volume from the snapshot")
    START_SERVER = "start_server", _("Start the server")
    DELETE_SNAPSHOT = "delete_snapshot", _("Delete the snapshot")


class StepState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")  # K5 refused it: a person retries it or does it by hand
    SKIPPED = "skipped", _("Skipped")


label_params(step=StepName, step_state=StepState)

OPEN_STEP_STATES = (StepState.PENDING, StepState.RUNNING)
CLOSED_STEP_STATES = (StepState.DONE, StepState.SKIPPED)


class JobStep(models.Model):
    job = models.ForeignKey("imaging.ImageJob", on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=20, choices=StepName.choices)
    position = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=8, choices=StepState.choices, default=StepState.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What happened last: as meaning (imaging.messages), shown in the reader's language; the
    # English text beside it for logs (and rows written before codes).
    detail = models.TextField(blank=True)
    detail_code = models.CharField(max_length=64, blank=True)
    detail_params = models.JSONField(default=dict, blank=True)
    # When the K5 action of this step (os-stop, fcx-restore, ...) was claimed to be sent:
    # committed before the call, so a worker killed after it looks at K5 before sending again.
    sent_at = models.DateTimeField(null=True, blank=True)
    # What the engine saw before sending (e.g. the volume's updated_at before a restore), the
    # evidence the action took effect is compared with.
    seen_before = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A transient K5 error: not tried again before this.
    next_try_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="one_step_per_name")]

    def __str__(self) -> str:
        return f"job {self.job_id} {self.name}: {self.state}"

    @property
    def closed(self) -> bool:
        return self.state in CLOSED_STEP_STATES

    @staticmethod
    def detail_fields(detail: Said) -> dict:
        """The columns that store `detail`: its code, parameters and English text."""
        return {
            "detail": detail.english(),
            "detail_code": detail.code,
            "detail_params": detail.params,
        }

    def said(self) -> Said | str:
        """The detail as meaning (for an event that quotes it), or its text for older rows."""
        return Said(self.detail_code, self.detail_params) if self.detail_code else self.detail

    @property
    def detail_text(self) -> str:
        """The detail in the active language (the reader's)."""
        return text_of(self.detail_code, self.detail_params, self.detail)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "detail": self.detail,
        }
