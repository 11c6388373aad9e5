"""Image jobs: one request to turn a volume into an image usable in every availability zone.

Every state change goes through `ImageJob.transition()`, which refuses moves the state machine
does not allow, claims the row with a conditional UPDATE (so two workers cannot both move the
same job), and writes the audit event in the same transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from imaging.k5 import types as k5types
from imaging.messages import Said, label_params, said, text_of
from imaging.models.events import EventKind, JobEvent
from imaging.signals import job_finished


class JobState(models.TextChoices):
    # Automation (imaging.engine.automation): a snapshot being taken, a server being stopped.
    PREPARING = "preparing", _("Preparing")
    # Windows round trip: waiting for Sysprep's /shutdown to leave the server SHUTOFF.
    AWAITING_SHUTDOWN = "awaiting_shutdown", _("Awaiting shutdown")
    QUEUED = "queued", _("Queued")  # waiting for a pacing slot or for K5
    SUBMITTING = "submitting", _("Submitting")  # the upload call is being sent / reconciled
    UPLOADING = "uploading", _("Uploading")  # K5 accepted; copying the volume into the image
    VERIFYING = "verifying", _("Verifying")  # image active; watching availability-zone sync
    # Windows round trip: the image is usable; restoring the snapshot, starting the server.
    FINISHING = "finishing", _("Finishing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    SYNC_FAILED = "sync_failed", _("Sync failed")
    CANCELLED = "cancelled", _("Cancelled")


label_params(job_state=JobState)

# Tools and reports depend on these names.
TERMINAL_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.SYNC_FAILED, JobState.CANCELLED}
)
ACTIVE_STATES = frozenset(set(JobState) - TERMINAL_STATES)

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # Snapshot taken (Windows: then wait for Sysprep's shutdown), or server stopped (stop/start:
    # the upload slot is already held, so the upload follows at once). Back to queued: the
    # stop was refused and waits for a person.
    JobState.PREPARING: frozenset(
        {
            JobState.AWAITING_SHUTDOWN,
            JobState.SUBMITTING,
            JobState.QUEUED,
            JobState.CANCELLED,
            JobState.FAILED,
        }
    ),
    JobState.AWAITING_SHUTDOWN: frozenset({JobState.QUEUED, JobState.CANCELLED, JobState.FAILED}),
    # To preparing: a stop/start job holding its slot stops its server first.
    JobState.QUEUED: frozenset(
        {JobState.SUBMITTING, JobState.PREPARING, JobState.CANCELLED, JobState.FAILED}
    ),
    # Back to queued: K5 answered rate-limited, or reconciliation showed the call never
    # happened. No cancel from here: the upload may already have reached K5.
    JobState.SUBMITTING: frozenset({JobState.UPLOADING, JobState.QUEUED, JobState.FAILED}),
    JobState.UPLOADING: frozenset({JobState.VERIFYING, JobState.FAILED}),
    JobState.VERIFYING: frozenset(
        {JobState.SUCCEEDED, JobState.SYNC_FAILED, JobState.FAILED, JobState.FINISHING}
    ),
    # The image is usable; the restore, start and snapshot deletion end in success (a step
    # K5 refuses waits in `finishing` for a person).
    JobState.FINISHING: frozenset({JobState.SUCCEEDED}),
    # K5 can report a zone's registration failed after the settle window: the image is then
    # not usable after all (imaging.engine.polling watches succeeded jobs for a while).
    JobState.SUCCEEDED: frozenset({JobState.SYNC_FAILED}),
}


class Automation(models.TextChoices):
    """What the portal does in K5 around the upload (imaging/engine/automation.py)."""

    NONE = "none", _("None (I prepare and restore the server myself)")
    STOP_START = "stop_start", _("Stop the server for the copy, then start it")
    SYSPREP_ROUND_TRIP = (
        "sysprep_round_trip",
        _("Windows round trip: snapshot, Sysprep, image, restore, start"),
    )


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"


class OsFamily(models.TextChoices):
    LINUX = "linux", "Linux"
    WINDOWS = "windows", "Windows"
    UNKNOWN = "unknown", "Unknown"

    @classmethod
    def of(cls, volume: k5types.Volume) -> OsFamily:
        """What the K5 facade read from a volume's image metadata, in our vocabulary: the one
        place K5's constants meet ours."""
        return _K5_OS_FAMILIES[volume.os_family]


_K5_OS_FAMILIES = {
    k5types.LINUX: OsFamily.LINUX,
    k5types.WINDOWS: OsFamily.WINDOWS,
    k5types.UNKNOWN: OsFamily.UNKNOWN,
}


class InvalidTransition(Exception):
    """The job is not in a state from which that move is allowed (or another worker moved it)."""


class ImageJobQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state__in=ACTIVE_STATES)


class ImageJob(models.Model):
    project = models.ForeignKey("imaging.K5Project", on_delete=models.PROTECT, related_name="jobs")
    volume_id = models.CharField(max_length=64, db_index=True)
    # What we knew of the volume when the job was requested: name, size, zone, status,
    # attached server and its power state, OS.
    volume = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    volume_size_gb = models.PositiveIntegerField(default=0)
    volume_zone = models.CharField(max_length=64, blank=True)
    os_family = models.CharField(max_length=8, choices=OsFamily.choices, default=OsFamily.UNKNOWN)
    image_name = models.CharField(max_length=255)
    disk_format = models.CharField(max_length=8, default="raw")
    container_format = models.CharField(max_length=8, default="bare")
    force = models.BooleanField(default=False)
    # The requester said the OS of a running server is stopped (K5 only warns; we record).
    os_stopped_override = models.BooleanField(default=False)
    # "linux-network-settings-removed" or "windows-sysprep-run": what the requester confirmed.
    preparation_confirmed = models.CharField(max_length=64)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="image_jobs"
    )
    requested_by_name = models.CharField(max_length=150)
    channel = models.CharField(max_length=4, choices=Channel.choices, default=Channel.WEB)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    state = models.CharField(
        max_length=20, choices=JobState.choices, default=JobState.QUEUED, db_index=True
    )
    # Why a non-terminal job is not moving ("waiting for a slot", "credentials invalid", ...).
    waiting_reason = models.CharField(max_length=500, blank=True)  # in English
    waiting_code = models.CharField(max_length=64, blank=True)  # imaging/messages.py
    waiting_params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    not_before = models.DateTimeField(null=True, blank=True)
    image_id = models.CharField(max_length=64, blank=True, db_index=True)
    # When the portal deleted that image in K5 (a leftover, or replaced by this job's retry).
    image_deleted_at = models.DateTimeField(null=True, blank=True)
    k5_request_ids = models.JSONField(default=list, blank=True)
    # Why the job failed: as meaning (rendered for the reader), and in English. Rows failed
    # before codes existed have only the English. `error_detail` is K5's own text, verbatim.
    error_message = models.TextField(blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    error_detail = models.TextField(blank=True)
    retry_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="retries"
    )
    # The batch (of a person, or of a schedule's run) that asked for this job.
    batch = models.ForeignKey(
        "imaging.Batch", on_delete=models.PROTECT, null=True, blank=True, related_name="jobs"
    )
    submit_attempts = models.PositiveIntegerField(default=0)
    expected_seconds = models.PositiveIntegerField(default=0)
    # Windows: the after-image tasks the requester ticked off (restore snapshot, restart).
    after_tasks = models.JSONField(default=dict, blank=True)
    automation = models.CharField(
        max_length=20, choices=Automation.choices, default=Automation.NONE
    )
    # The volume's server when the job was requested (automation stops, starts, waits for it).
    server_id = models.CharField(max_length=64, blank=True)
    # Windows round trip: the snapshot taken before Sysprep, and whether to keep it after.
    snapshot_id = models.CharField(max_length=64, blank=True)
    keep_snapshot = models.BooleanField(default=False)
    # Automation steps remain that the engine runs by itself although the job has ended (the
    # server started after a failed copy, the snapshot deleted after a cancel, a restore a
    # person asked for): the tick keeps visiting the job while this is set.
    steps_open = models.BooleanField(default=False, db_index=True)
    # A person asked to restore a round trip's server without an image (after giving up).
    restore_requested_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    submit_started_at = models.DateTimeField(null=True, blank=True)  # upload call being sent
    submitted_at = models.DateTimeField(null=True, blank=True)  # K5 accepted it
    upload_finished_at = models.DateTimeField(null=True, blank=True)  # image active
    sync_watch_until = models.DateTimeField(null=True, blank=True)
    # When a poll first saw the volume back at rest with the image still queued/saving (a copy
    # that stopped); the next poll that sees it too fails the job.
    copy_ended_seen_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ImageJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_job_per_idempotency_key",
            ),
            # The database itself refuses a second active job on one volume, whatever races
            # the web and API tiers lose.
            models.UniqueConstraint(
                fields=["project", "volume_id"],
                condition=models.Q(
                    state__in=[
                        JobState.PREPARING,
                        JobState.AWAITING_SHUTDOWN,
                        JobState.QUEUED,
                        JobState.SUBMITTING,
                        JobState.UPLOADING,
                        JobState.VERIFYING,
                        JobState.FINISHING,
                    ]
                ),
                name="one_active_job_per_volume",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "state", "created_at"]),
            # A submission's expected duration reads the project's last successes.
            models.Index(fields=["project", "state", "-finished_at"]),
        ]

    def __str__(self) -> str:
        return f"job {self.pk}: {self.image_name} from {self.volume_id} ({self.state})"

    @property
    def error_text(self) -> str:
        """Why the job failed, in the active language."""
        return text_of(self.error_code, self.error_params, self.error_message)

    def error_said(self) -> Said:
        """The job's error as meaning, for a message that quotes it (its text if it has no
        code: a row written before codes)."""
        if self.error_code:
            return Said(self.error_code, self.error_params)
        return said("text.literal", text=self.error_message or "—")

    @property
    def waiting_text(self) -> str:
        """Why the job is not moving, in the active language."""
        return text_of(self.waiting_code, self.waiting_params, self.waiting_reason)

    @staticmethod
    def said_fields(**fields) -> dict:
        """`waiting_reason=` / `error_message=` given as a `Said` become the three fields
        each is stored in (code, params, English); as a string, a literal with no code.
        Use it for every write of those fields, updates of querysets included."""
        for name, code_field, params_field, limit in _SAID_FIELDS:
            if name not in fields:
                continue
            value = fields[name]
            if isinstance(value, Said):
                fields[name] = value.english()[:limit]
                fields[code_field], fields[params_field] = value.code, value.params
            else:
                fields[code_field], fields[params_field] = "", {}
        return fields

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def is_windows(self) -> bool:
        """Windows volumes have the vendor's after-image tasks (restore snapshot, restart)."""
        return self.os_family == OsFamily.WINDOWS

    def progress_estimate(self) -> float | None:
        """0 to 1: the upload is 90% of the way (elapsed vs expected, capped), the zone check
        10%. None for a job that ended without an image."""
        now = timezone.now()
        if self.state == JobState.SUCCEEDED:
            return 1.0
        if self.state == JobState.FINISHING:
            return 0.99  # the image is usable; the server is being put back
        if self.terminal:
            return None
        if self.state == JobState.UPLOADING and self.submitted_at:
            elapsed = (now - self.submitted_at).total_seconds()
            return round(min(elapsed / max(self.expected_seconds, 1), 0.99) * 0.9, 3)
        if self.state == JobState.VERIFYING and self.upload_finished_at and self.sync_watch_until:
            # The job's own window, sized by its image when the upload finished.
            settle = max((self.sync_watch_until - self.upload_finished_at).total_seconds(), 1)
            done = (now - self.upload_finished_at).total_seconds() / settle
            return round(0.9 + 0.1 * min(done, 0.99), 3)
        return 0.0

    def transition(
        self,
        to_state: str,
        *,
        message: str | Said = "",
        actor=None,
        detail: dict | None = None,
        code: str = "",
        params: dict | None = None,
        **fields,
    ) -> None:
        """Move to `to_state`, saving `fields` with it, and record the event — or raise
        InvalidTransition when the move is not allowed from the job's current state. The
        event's message, `waiting_reason` and `error_message` are best given as `Said`."""
        from_state = self.state
        if to_state not in ALLOWED_TRANSITIONS.get(from_state, ()):
            raise InvalidTransition(
                f"a {JobState(from_state).label.lower()} job cannot become {to_state}"
            )
        now = timezone.now()
        if to_state in TERMINAL_STATES:
            fields.setdefault("finished_at", now)
            fields.setdefault("waiting_reason", "")
            if self.automation != Automation.NONE:
                # The engine settles the automation steps of a job that ended (starts the
                # server it stopped, deletes a snapshot no longer needed).
                fields.setdefault("steps_open", True)
        fields = self.said_fields(**fields)
        with transaction.atomic():
            moved = ImageJob.objects.filter(pk=self.pk, state=from_state).update(
                state=to_state, updated_at=now, **fields
            )
            if not moved:
                raise InvalidTransition(f"job {self.pk} is no longer {from_state}")
            JobEvent.record(
                project_id=self.project_id,
                job_id=self.pk,
                kind=EventKind.TRANSITION,
                message=message,
                code=code,
                params=params,
                actor=actor,
                from_state=from_state,
                to_state=to_state,
                detail=detail,
            )
        self.state = to_state
        self.updated_at = now
        for name, value in fields.items():
            setattr(self, name, value)
        if to_state in TERMINAL_STATES:
            job_finished.send(sender=ImageJob, job=self)

    def record(
        self,
        kind: str,
        message: str | Said = "",
        *,
        actor=None,
        detail: dict | None = None,
        code: str = "",
        params: dict | None = None,
    ):
        return JobEvent.record(
            project_id=self.project_id,
            job_id=self.pk,
            kind=kind,
            message=message,
            code=code,
            params=params,
            actor=actor,
            detail=detail,
        )


_SAID_FIELDS = (
    ("waiting_reason", "waiting_code", "waiting_params", 500),
    ("error_message", "error_code", "error_params", 100_000),
)


class SyncRole(models.TextChoices):
    SOURCE = "source", _("Source zone")
    REPLICA = "replica", _("Replica")


class SyncStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SYNCED = "synced", _("Synced")
    FAILED = "failed", _("Failed")


class ZoneSyncResult(models.Model):
    """Whether the job's image is usable in one availability zone. Kept after a retry."""

    job = models.ForeignKey(ImageJob, on_delete=models.CASCADE, related_name="zones")
    availability_zone = models.CharField(max_length=64)
    role = models.CharField(max_length=8, choices=SyncRole.choices)
    status = models.CharField(max_length=8, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    reason = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "-role", "availability_zone"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "availability_zone"], name="one_result_per_job_zone"
            )
        ]

    def __str__(self) -> str:
        return f"{self.availability_zone} ({self.role}): {self.status}"


class UploadAttempt(models.Model):
    """One os-volume_upload_image call, counted against the project's pacing window.

    Written (and committed) before the call is sent, so that a worker dying mid-call still
    counts it, and every host sees the same budget.
    """

    class Outcome(models.TextChoices):
        SENDING = "sending", "Being sent"
        ACCEPTED = "accepted", "Accepted"
        RATE_LIMITED = "rate_limited", "Rate-limited by K5"
        REJECTED = "rejected", "Rejected by K5"
        NOT_SENT = "not_sent", "Not sent"
        UNKNOWN = "unknown", "Outcome unknown"

    # Outcomes that surely did not use one of K5's uploads. A call K5 rejected (400) still
    # counts: a rate limiter counts requests, not successes, and guessing low costs a 413.
    FREE_OUTCOMES = (Outcome.RATE_LIMITED, Outcome.NOT_SENT)

    project = models.ForeignKey(
        "imaging.K5Project", on_delete=models.CASCADE, related_name="upload_attempts"
    )
    job = models.ForeignKey(ImageJob, on_delete=models.CASCADE, related_name="upload_attempts")
    # The latest moment K5 can have counted the call: set when the slot is taken, moved when
    # the call leaves and again when its outcome is known, so our window never reopens
    # before K5's does.
    sent_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SENDING)

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["project", "sent_at"])]

    def __str__(self) -> str:
        return f"upload for job {self.job_id} at {self.sent_at}: {self.outcome}"
