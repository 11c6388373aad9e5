from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, tzinfo

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from imaging.access import event_detail_shown
from imaging.messages import for_reader
from imaging.models import (
    Automation,
    ImageJob,
    JobEvent,
    JobStep,
    K5Project,
    OsFamily,
    Role,
    ZoneSyncResult,
)


class ProjectSerializer(serializers.ModelSerializer):
    # Declared, not derived from the model: the model's bounds depend on the database backend,
    # and the schema must be the same whichever one generates it.
    upload_limit = serializers.IntegerField(
        read_only=True, help_text="uploads K5 allows per window"
    )
    upload_window_seconds = serializers.IntegerField(read_only=True)
    role = serializers.SerializerMethodField()
    uploads_in_window = serializers.SerializerMethodField()
    next_slot_at = serializers.SerializerMethodField()

    class Meta:
        model = K5Project
        fields = [
            "id",
            "name",
            "region",
            "role",
            "upload_limit",
            "upload_window_seconds",
            "uploads_in_window",
            "next_slot_at",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=Role.values))
    def get_role(self, project) -> str:
        return self.context["roles"].get(project.pk, Role.VIEWER)

    def get_uploads_in_window(self, project) -> int:
        return self.context["budgets"][project.pk].used

    @extend_schema_field(
        serializers.DateTimeField(allow_null=True, help_text="null: a slot is free now")
    )
    def get_next_slot_at(self, project):
        return self.context["budgets"][project.pk].next_slot_at


class ServerSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()


class VolumeSerializer(serializers.Serializer):
    """A volume as K5 lists it, with whether it can be imaged now."""

    id = serializers.CharField(source="volume.id")
    name = serializers.CharField(source="volume.name")
    size = serializers.IntegerField(source="volume.size", help_text="GB")
    status = serializers.CharField(source="volume.status")
    availability_zone = serializers.CharField(source="volume.availability_zone", allow_null=True)
    bootable = serializers.BooleanField(source="volume.bootable")
    attached_server = ServerSerializer(source="server", allow_null=True)
    os_family = serializers.ChoiceField(choices=OsFamily.values)
    eligible = serializers.BooleanField(source="verdict.eligible")
    ineligible_reason = serializers.SerializerMethodField()
    requires_force = serializers.BooleanField(source="verdict.requires_force")

    def get_ineligible_reason(self, row) -> str | None:
        return row.verdict.reason or None


class JobCreateSerializer(serializers.Serializer):
    project = serializers.IntegerField(help_text="id of a project from /api/v1/projects/")
    volume_id = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        max_length=64,
        error_messages={"invalid": "A K5 volume id: letters, digits, '.', '_' and '-'."},
        help_text="the volume's K5 id (a UUID), from /api/v1/projects/{id}/volumes/",
    )
    image_name = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        max_length=1000,
        help_text="1-255 characters, unused in the project",
    )
    force = serializers.BooleanField(
        required=False, default=False, help_text="required for an in-use volume"
    )
    os_stopped_confirmed = serializers.BooleanField(
        required=False,
        default=False,
        help_text="the OS of the attached server is stopped although K5 reports it running",
    )
    # Not required by the schema: a round trip needs none. Without it (or false), any other
    # job is refused by the engine's rule, `preparation_required`, naming this field.
    preparation_confirmed = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Linux: the network settings were removed; Windows: Sysprep was run. "
        "Must be true (else 400 preparation_required), except with the automation "
        "sysprep_round_trip, which takes the snapshot first and waits for the shutdown Sysprep "
        "ends with",
    )
    os_family = serializers.ChoiceField(
        choices=[OsFamily.LINUX, OsFamily.WINDOWS],
        required=False,
        allow_null=True,
        default=None,
        help_text="only for a volume whose OS K5 does not report",
    )
    disk_format = serializers.ChoiceField(choices=["raw"], required=False, default="raw")
    container_format = serializers.ChoiceField(choices=["bare"], required=False, default="bare")
    automation = serializers.ChoiceField(
        choices=Automation.choices,
        required=False,
        default=Automation.NONE,
        help_text="what the portal does in K5 around the upload: none; stop_start (a volume "
        "attached to a server: stop it for the copy, start it again); sysprep_round_trip (a "
        "Windows volume attached to a server: snapshot, wait for Sysprep's shutdown, image, "
        "restore the snapshot, start the server)",
    )
    keep_snapshot = serializers.BooleanField(
        required=False,
        default=False,
        help_text="sysprep_round_trip: keep the snapshot taken before Sysprep after the restore",
    )


class ZoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = ZoneSyncResult
        fields = ["availability_zone", "role", "status", "reason", "checked_at"]


def _when(value: datetime | None, zone: tzinfo) -> str | None:
    """A date-time as DRF's DateTimeField writes it (ISO 8601 in the current time zone `zone`,
    UTC as "Z"), at a fifth of its cost: a page of jobs has a few hundred."""
    if not value:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def zones_by_job(jobs: Iterable[ImageJob]) -> dict[int, list[dict]]:
    """The zones of `jobs` as the API shows them (source first), in one query: a prefetch
    would build a model instance for each of a page's 150 zones only to read five values."""
    zones: dict[int, list[dict]] = defaultdict(list)
    here = timezone.get_current_timezone()
    rows = (
        ZoneSyncResult.objects.filter(job__in=[job.pk for job in jobs])
        .order_by("job", "-role", "availability_zone")
        .values_list("job_id", *ZoneSerializer.Meta.fields)
    )
    for job_id, zone, role, status, reason, checked_at in rows:
        zones[job_id].append(
            {
                "availability_zone": zone,
                "role": role,
                "status": status,
                "reason": reason,
                "checked_at": _when(checked_at, here),
            }
        )
    return zones


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobStep
        fields = ["name", "state", "started_at", "finished_at", "detail"]


def steps_by_job(jobs: Iterable[ImageJob]) -> dict[int, list[dict]]:
    """The automation steps of `jobs` as the API shows them (in order), in one query, and in
    none when no job on the page is automated."""
    steps: dict[int, list[dict]] = defaultdict(list)
    automated = [job.pk for job in jobs if job.automation != Automation.NONE]
    if not automated:
        return steps
    here = timezone.get_current_timezone()
    rows = (
        JobStep.objects.filter(job__in=automated)
        .order_by("job", "position")
        .values_list("job_id", *StepSerializer.Meta.fields, "detail_code", "detail_params")
    )
    for job_id, name, state, started_at, finished_at, detail, code, params in rows:
        steps[job_id].append(
            {
                "name": name,
                "state": state,
                "started_at": _when(started_at, here),
                "finished_at": _when(finished_at, here),
                # In the reader's language (Accept-Language), as the events' messages.
                "detail": for_reader(code, params, detail),
            }
        )
    return steps


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="stable code of the explanation (empty for jobs failed before codes existed)"
    )
    params = serializers.DictField(help_text="the explanation's parameters")
    message = serializers.CharField(
        help_text="the explanation in the request's Accept-Language, else the user's language"
    )
    detail = serializers.CharField(help_text="K5's own words, verbatim")


class JobSerializer(serializers.ModelSerializer):
    # A job as a tool follows it. The fields below declare it (and the schema); the
    # representation is written out in `to_representation`, which the tests hold equal to what
    # DRF derives from these declarations. Its context carries "zones" (`zones_by_job`),
    # "steps" (`steps_by_job`) and "forecasts" (queue position and start by job id) of the
    # jobs it shows. (A comment, not a
    # docstring: the schema would show a docstring as the component's description.)

    project_name = serializers.CharField(source="project.name", read_only=True)
    terminal = serializers.BooleanField(read_only=True)
    error = serializers.SerializerMethodField()
    waiting_reason = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    estimated_start = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by_name", read_only=True)
    expected_seconds = serializers.IntegerField(
        read_only=True, help_text="how long the upload should take, from past jobs"
    )
    zones = ZoneSerializer(many=True, read_only=True)
    steps = StepSerializer(
        many=True,
        read_only=True,
        help_text="what the portal does in K5 around the upload (its automation), in order; "
        "empty without automation",
    )
    events = serializers.SerializerMethodField()

    class Meta:
        model = ImageJob
        fields = [
            "id",
            "project",
            "project_name",
            "volume_id",
            "volume",
            "image_name",
            "image_id",
            "disk_format",
            "container_format",
            "force",
            "os_family",
            "automation",
            "keep_snapshot",
            "snapshot_id",
            "state",
            "terminal",
            "waiting_reason",
            "waiting_code",
            "waiting_params",
            "error",
            "queue_position",
            "estimated_start",
            "progress",
            "expected_seconds",
            "requested_by",
            "channel",
            "created_at",
            "submitted_at",
            "upload_finished_at",
            "finished_at",
            "retry_of",
            "zones",
            "steps",
            "events",
        ]

    # What `to_representation` reads (`progress_estimate` included) and what the queue
    # forecast reads of a job's project: a list loads these columns and no others.
    columns = (
        "id",
        "project_id",
        "project__name",
        "project__upload_limit",
        "project__upload_window_seconds",
        "volume_id",
        "volume",
        "image_name",
        "image_id",
        "disk_format",
        "container_format",
        "force",
        "os_family",
        "automation",
        "keep_snapshot",
        "snapshot_id",
        "state",
        "waiting_reason",
        "waiting_code",
        "waiting_params",
        "error_message",
        "error_code",
        "error_params",
        "error_detail",
        "expected_seconds",
        "requested_by_name",
        "channel",
        "created_at",
        "submitted_at",
        "upload_finished_at",
        "sync_watch_until",
        "finished_at",
        "retry_of_id",
    )

    def to_representation(self, job):
        # Written out rather than left to DRF's walk over 28 fields and their zones: on a
        # page of 50 jobs that walk cost more than everything else the request did
        # (docs/performance.md, "The jobs API against a bare DRF endpoint").
        forecast = self._forecast(job)
        here = self.context.get("time_zone")
        if here is None:  # once per response: the current time zone is a context-local lookup
            here = self.context["time_zone"] = timezone.get_current_timezone()
        return {
            "id": job.pk,
            "project": job.project_id,
            "project_name": job.project.name,
            "volume_id": job.volume_id,
            "volume": job.volume,
            "image_name": job.image_name,
            "image_id": job.image_id,
            "disk_format": job.disk_format,
            "container_format": job.container_format,
            "force": job.force,
            "os_family": job.os_family,
            "automation": job.automation,
            "keep_snapshot": job.keep_snapshot,
            "snapshot_id": job.snapshot_id,
            "state": job.state,
            "terminal": job.terminal,
            "waiting_reason": self.get_waiting_reason(job),
            "waiting_code": job.waiting_code,
            "waiting_params": job.waiting_params,
            "error": self.get_error(job),
            "queue_position": forecast[0] if forecast else None,
            "estimated_start": forecast[1] if forecast else None,
            "progress": job.progress_estimate(),
            "expected_seconds": job.expected_seconds,
            "requested_by": job.requested_by_name,
            "channel": job.channel,
            "created_at": _when(job.created_at, here),
            "submitted_at": _when(job.submitted_at, here),
            "upload_finished_at": _when(job.upload_finished_at, here),
            "finished_at": _when(job.finished_at, here),
            "retry_of": job.retry_of_id,
            "zones": self.context["zones"].get(job.pk, []),
            "steps": self.context["steps"].get(job.pk, []),
            "events": self.get_events(job),
        }

    @extend_schema_field(JobErrorSerializer(allow_null=True))
    def get_error(self, job):
        if not job.error_message:
            return None
        return {
            "code": job.error_code,
            "params": job.error_params,
            "message": for_reader(job.error_code, job.error_params, job.error_message),
            "detail": job.error_detail,
        }

    def get_waiting_reason(self, job) -> str:
        return for_reader(job.waiting_code, job.waiting_params, job.waiting_reason)

    def _forecast(self, job):
        return self.context["forecasts"].get(job.pk)

    def get_queue_position(self, job) -> int | None:
        forecast = self._forecast(job)
        return forecast[0] if forecast else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True, help_text="null unless queued"))
    def get_estimated_start(self, job):
        forecast = self._forecast(job)
        return forecast[1] if forecast else None

    def get_progress(self, job) -> float | None:
        return job.progress_estimate()

    @extend_schema_field(OpenApiTypes.URI)
    def get_events(self, job) -> str:
        # Reversed and made absolute once per response, not once per job.
        template = self.context.get("events_url")
        if template is None:
            path = reverse("api-job-events", args=[0])
            request = self.context.get("request")
            template = (request.build_absolute_uri(path) if request else path).replace(
                "/0/", "/{}/"
            )
            self.context["events_url"] = template
        return template.format(job.pk)


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    project_name = serializers.CharField(source="project.name")

    class Meta:
        model = JobEvent
        fields = [
            "id",
            "created_at",
            "project",
            "project_name",
            "job",
            "kind",
            "actor",
            "from_state",
            "to_state",
            "code",
            "params",
            "message",
            "detail",
        ]

    def to_representation(self, event):
        # Without the reader's projects in the context, no address is shown.
        data = super().to_representation(event)
        data["message"] = for_reader(event.code, event.params, event.message)
        data["detail"] = event_detail_shown(event, self.context.get("showing_addresses", set()))
        return data


class ReplacedImageSerializer(serializers.Serializer):
    # The old job's image as K5 showed it when the retry was asked for, and what the retry
    # does with it: `delete` (not usable: the old job's sync failed, or the image is not
    # `active` without a sync reason; deleted just before the new upload is sent, if it is
    # still not usable then) or `keep` (usable; the new image needs another name).
    id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="K5's image status")
    usable = serializers.BooleanField(help_text="active, and no sync_status_reason")
    action = serializers.ChoiceField(choices=["delete", "keep"])


class RetryPreviewSerializer(serializers.Serializer):
    replaces_image = ReplacedImageSerializer(
        allow_null=True, help_text="null: K5 holds no image of the job, nothing is deleted"
    )
    message = serializers.CharField(help_text="what the retry does with the old image")
    image_name = serializers.CharField(
        allow_null=True,
        help_text="the name the retry uses when none is given; null when the kept image holds "
        "the job's name and a new one must be given",
    )


class RetrySerializer(serializers.Serializer):
    image_name = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=1000,
        help_text="the new image's name (default: the job's); required when the old image is kept",
    )


# The answer to a retry: the new job (Job) and what it does with the old job's image. Raw, so
# that the Job's fields are declared once (a subclass would give its enums a second home).
RETRIED_JOB_SCHEMA = {
    "allOf": [
        {"$ref": "#/components/schemas/Job"},
        {
            "type": "object",
            "properties": {
                "replaces_image": {
                    "allOf": [{"$ref": "#/components/schemas/ReplacedImage"}],
                    "nullable": True,
                    "description": "null: K5 holds no image of the retried job",
                }
            },
            "required": ["replaces_image"],
        },
    ]
}
