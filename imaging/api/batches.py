"""API v1: batches (many volumes at once) and schedules (a batch at each cron time, keeping
the newest images). Thin, as imaging/api/views.py: the engine's services do the work."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from imaging.access import visible_projects
from imaging.api.idempotency import IDEMPOTENCY_KEY, idempotency_key
from imaging.api.pagination import Pages
from imaging.api.serializers import JobSerializer, steps_by_job, zones_by_job
from imaging.api.views import InEnglish
from imaging.engine.batches import (
    BatchRequest,
    BatchSummary,
    cancel_batch,
    create_batch_once,
    retry_failed,
    summarize,
    summarize_all,
)
from imaging.engine.retention import dry_run
from imaging.engine.schedules import (
    ScheduleRequest,
    change_schedule,
    create_schedule,
    delete_schedule,
    recent_runs_of,
    set_enabled,
)
from imaging.messages import reader_language, render_text
from imaging.models import Automation, Batch, BatchState, Channel, Schedule
from imaging.models.batches import reason_of
from portal.addresses import client_address


def volume_id_field() -> serializers.RegexField:
    return serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        max_length=64,
        error_messages={"invalid": "A K5 volume id: letters, digits, '.', '_' and '-'."},
    )


TEMPLATE_HELP = (
    "the image names: {volume} (the volume's name), {date} (YYYYMMDD), {time} (HHMM), {seq} "
    "(1, 2, … in the order of volume_ids); each 1-255 characters, all different"
)


class RefusedVolumeSerializer(serializers.Serializer):
    volume_id = serializers.CharField()
    volume_name = serializers.CharField(allow_blank=True)
    code = serializers.CharField(help_text="the rule, as a single submission's error `code`")
    message = serializers.CharField(
        help_text="why, in the reader's language (Accept-Language, else the saved language)"
    )


class BatchCreateSerializer(serializers.Serializer):
    project = serializers.IntegerField(help_text="id of a project from /api/v1/projects/")
    volume_ids = serializers.ListField(child=volume_id_field(), min_length=1, max_length=100)
    image_name_template = serializers.CharField(
        max_length=255, trim_whitespace=False, help_text=TEMPLATE_HELP
    )
    preparation_confirmed = serializers.BooleanField(
        help_text="every volume was prepared (Linux: network settings removed; Windows: Sysprep)"
    )
    force = serializers.BooleanField(
        required=False, default=False, help_text="image in-use volumes whose server is stopped"
    )
    all_or_nothing = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: if any volume fails its checks, nothing is queued; false: it is "
        "listed in `refused` and the others are queued",
    )
    automation = serializers.ChoiceField(
        choices=Automation.choices,
        required=False,
        default=Automation.NONE,
        help_text="for every volume, as for one job: none, stop_start or sysprep_round_trip",
    )


class BatchSerializer(serializers.Serializer):
    # A batch with its jobs (the Job representation), counted by state; built from the
    # engine's BatchSummary. (A comment, not a docstring: the schema would show it.)
    id = serializers.IntegerField()
    project = serializers.IntegerField()
    state = serializers.ChoiceField(choices=BatchState.choices)
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="jobs by state (a retried job counts as its retry)",
    )
    expected_end = serializers.DateTimeField(
        allow_null=True, help_text="when the last job should end; null once all have"
    )
    image_name_template = serializers.CharField()
    all_or_nothing = serializers.BooleanField()
    automation = serializers.ChoiceField(choices=Automation.choices)
    schedule = serializers.IntegerField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True, help_text="a schedule's run: its time")
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    refused = RefusedVolumeSerializer(many=True, help_text="volumes that got no job, and why")
    jobs = JobSerializer(many=True)

    def to_representation(self, summary: BatchSummary):
        batch = summary.batch
        context = {**self.context, "forecasts": summary.forecasts}
        # A list's page gives the zones and steps of all its batches at once.
        if "zones" not in context:
            context["zones"] = zones_by_job(summary.jobs)
        if "steps" not in context:
            context["steps"] = steps_by_job(summary.jobs)
        return {
            "id": batch.pk,
            "project": batch.project_id,
            "state": summary.state,
            "counts": summary.counts,
            "expected_end": _iso(summary.expected_end),
            "image_name_template": batch.image_name_template,
            "all_or_nothing": batch.all_or_nothing,
            "automation": batch.automation,
            "schedule": batch.schedule_id,
            "due_at": _iso(batch.due_at),
            "requested_by": batch.requested_by_name,
            "created_at": _iso(batch.created_at),
            "refused": [_refused(row) for row in batch.refused],
            "jobs": JobSerializer(summary.jobs, many=True, context=context).data,
        }


def _refused(row: dict) -> dict:
    """A volume that got no job: the refusal's code, and why in the reader's language."""
    return {
        **{key: row.get(key, "") for key in ("volume_id", "volume_name", "code")},
        "message": reason_of(row, reader_language()),
    }


def _iso(value):
    return serializers.DateTimeField().to_representation(value) if value else None


class BatchViewSet(
    InEnglish,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = BatchSerializer
    pagination_class = Pages
    parser_classes = [JSONParser]

    def get_queryset(self):
        return Batch.objects.filter(project__in=visible_projects(self.request.user)).order_by(
            "-created_at", "-id"
        )

    def _answer(self, batch: Batch, code=status.HTTP_200_OK, **extra) -> Response:
        return Response(
            {
                **BatchSerializer(summarize(batch), context=self.get_serializer_context()).data,
                **extra,
            },
            status=code,
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        summaries = summarize_all(list(page))
        every_job = [job for summary in summaries for job in summary.jobs]
        context = {
            **self.get_serializer_context(),
            # for the whole page in one query each, not one per batch
            "zones": zones_by_job(every_job),
            "steps": steps_by_job(every_job),
        }
        return self.get_paginated_response(
            [BatchSerializer(summary, context=context).data for summary in summaries]
        )

    def retrieve(self, request, *args, **kwargs):
        return self._answer(self.get_object())

    @extend_schema(
        request=BatchCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: BatchSerializer,
            200: OpenApiResponse(
                response=BatchSerializer,
                description="this Idempotency-Key and body were sent before: the batch "
                "made then, as it is now",
            ),
            400: OpenApiResponse(
                description="a rule was broken: the template (`fields.image_name_template`: "
                "an unknown placeholder, a name too long, two volumes given one name — "
                "`image_name_duplicate`); nothing was queued"
            ),
            409: OpenApiResponse(
                description="`batch_refused`: no volume could be queued, or one could not "
                "and `all_or_nothing` was asked (`fields.volume_ids` says why for each); "
                "nothing was queued. `idempotency_conflict`: this Idempotency-Key was used "
                "for another request"
            ),
            403: OpenApiResponse(description="viewers cannot submit"),
            404: OpenApiResponse(description="no such project"),
            503: OpenApiResponse(description="K5 could not be asked"),
        },
    )
    def create(self, request, *args, **kwargs):
        given = BatchCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        project = get_object_or_404(visible_projects(request.user), pk=data["project"])
        batch, created = create_batch_once(
            BatchRequest(
                project=project,
                volume_ids=data["volume_ids"],
                image_name_template=data["image_name_template"],
                preparation_confirmed=data["preparation_confirmed"],
                force=data["force"],
                all_or_nothing=data["all_or_nothing"],
                automation=data["automation"],
            ),
            user=request.user,
            channel=Channel.API,
            client_address=client_address(request),
            idempotency_key=idempotency_key(request),
        )
        return self._answer(batch, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request=None,
        responses={
            200: BatchSerializer,
            403: OpenApiResponse(description="only the requester or a project admin may"),
            409: OpenApiResponse(description="no job of the batch is still waiting to be sent"),
        },
        description="Cancel every job of the batch not yet sent to K5 (`queued`); the others "
        "run on.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        batch = self.get_object()
        cancel_batch(batch, request.user)
        return self._answer(batch)

    @extend_schema(
        request=None,
        responses={
            200: BatchSerializer,
            403: OpenApiResponse(description="only the requester or a project admin may"),
            409: OpenApiResponse(description="no job of the batch failed, or each was retried"),
        },
        description="Retry each `failed` or `sync_failed` job of the batch, as a single "
        "retry does (its image is deleted only if not usable); the new jobs join the batch. "
        "`retry_refused` lists the jobs whose retry was refused, and why (`message` in the "
        "reader's language, as `refused[].message`).",
    )
    @action(detail=True, methods=["post"], url_path="retry-failed")
    def retry_failed(self, request, pk=None):
        batch = self.get_object()
        results = retry_failed(
            batch, request.user, channel=Channel.API, client_address=client_address(request)
        )
        refused = [
            {
                "job": r.old.pk,
                "code": r.refusal.code,
                "message": render_text(r.refusal.meaning, reader_language()),
            }
            for r in results
            if r.refusal is not None
        ]
        return self._answer(batch, retry_refused=refused)


# --- schedules ----------------------------------------------------------------------------------


class ScheduleCreateSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    name = serializers.CharField(max_length=100)
    volume_ids = serializers.ListField(child=volume_id_field(), min_length=1, max_length=100)
    cron = serializers.CharField(
        max_length=100,
        help_text='5 fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * 1"',
    )
    timezone = serializers.CharField(
        max_length=64, required=False, default="UTC", help_text="IANA name, e.g. Asia/Tokyo"
    )
    image_name_template = serializers.CharField(
        max_length=255, trim_whitespace=False, help_text=TEMPLATE_HELP
    )
    keep = serializers.IntegerField(
        min_value=1, max_value=1000, help_text="succeeded images kept per volume"
    )
    preparation_confirmed = serializers.BooleanField()
    force = serializers.BooleanField(required=False, default=False)
    enabled = serializers.BooleanField(required=False, default=True)
    automation = serializers.ChoiceField(
        choices=Automation.choices,
        required=False,
        default=Automation.NONE,
        help_text="for every volume, as for one job: none, stop_start or sysprep_round_trip",
    )


class ScheduleChangeSerializer(serializers.Serializer):
    """Any of a schedule's settings; what is left out stays as it is."""

    name = serializers.CharField(max_length=100, required=False)
    volume_ids = serializers.ListField(
        child=volume_id_field(), min_length=1, max_length=100, required=False
    )
    cron = serializers.CharField(max_length=100, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    image_name_template = serializers.CharField(
        max_length=255, trim_whitespace=False, required=False
    )
    keep = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    force = serializers.BooleanField(required=False)
    automation = serializers.ChoiceField(choices=Automation.choices, required=False)
    preparation_confirmed = serializers.BooleanField(
        required=False,
        default=False,
        help_text="needed (true) when volumes are added or the automation changes",
    )


class RunSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    due_at = serializers.DateTimeField(allow_null=True)
    missed_runs = serializers.IntegerField(help_text="times missed while down, run by this one")
    state = serializers.ChoiceField(choices=BatchState.choices)
    counts = serializers.DictField(child=serializers.IntegerField())
    skipped = RefusedVolumeSerializer(many=True)


class ScheduleSerializer(serializers.ModelSerializer):
    timezone = serializers.CharField(source="time_zone")
    # Declared: a model's PositiveIntegerField would give the schema its database's range
    # (SQLite's and PostgreSQL's differ), and the committed schema must be one.
    keep = serializers.IntegerField(
        min_value=1, max_value=1000, help_text="succeeded images kept per volume"
    )
    created_by = serializers.CharField(source="created_by_name")
    recent_runs = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = [
            "id",
            "project",
            "name",
            "volume_ids",
            "cron",
            "timezone",
            "image_name_template",
            "keep",
            "force",
            "automation",
            "enabled",
            "next_run_at",
            "last_run_at",
            "created_by",
            "created_at",
            "recent_runs",
        ]

    @staticmethod
    def run(summary: BatchSummary) -> dict:
        batch = summary.batch
        return {
            "batch": batch.pk,
            "due_at": _iso(batch.due_at),
            "missed_runs": batch.missed_runs,
            "state": summary.state,
            "counts": summary.counts,
            "skipped": [_refused(row) for row in batch.refused],
        }

    @extend_schema_field(RunSerializer(many=True))
    def get_recent_runs(self, schedule):
        runs = self.context.get("runs")
        if runs is None:  # one schedule: its own
            runs = schedule_runs([schedule])
        return [self.run(summary) for summary in runs[schedule.pk]]


def schedule_runs(schedules: list[Schedule]) -> dict[int, list[BatchSummary]]:
    """Each schedule's recent runs, summarized, in a few queries for a whole page."""
    batches = recent_runs_of(schedules)
    summaries = iter(summarize_all([batch for runs in batches.values() for batch in runs]))
    return {pk: [next(summaries) for _batch in runs] for pk, runs in batches.items()}


class RetentionSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    volume_id = serializers.CharField()
    image_id = serializers.CharField()
    image_name = serializers.CharField()
    created_at = serializers.DateTimeField()


class ScheduleViewSet(
    InEnglish,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ScheduleSerializer
    pagination_class = Pages
    parser_classes = [JSONParser]

    def get_queryset(self):
        return Schedule.objects.filter(project__in=visible_projects(self.request.user)).order_by(
            "project", "name"
        )

    def list(self, request, *args, **kwargs):
        page = list(self.paginate_queryset(self.get_queryset()))
        context = {**self.get_serializer_context(), "runs": schedule_runs(page)}
        return self.get_paginated_response(
            ScheduleSerializer(page, many=True, context=context).data
        )

    @extend_schema(
        request=ScheduleCreateSerializer,
        responses={
            201: ScheduleSerializer,
            400: OpenApiResponse(
                description="a rule was broken; `fields` names it: `cron` (which field is "
                "wrong), `timezone`, `keep`, `image_name_template`, `volume_ids`, `name`"
            ),
            403: OpenApiResponse(description="viewers cannot create schedules"),
            404: OpenApiResponse(description="no such project"),
        },
    )
    def create(self, request, *args, **kwargs):
        given = ScheduleCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        project = get_object_or_404(visible_projects(request.user), pk=data["project"])
        schedule = create_schedule(
            ScheduleRequest(
                project=project,
                name=data["name"],
                volume_ids=data["volume_ids"],
                cron=data["cron"],
                time_zone=data["timezone"],
                image_name_template=data["image_name_template"],
                keep=data["keep"],
                preparation_confirmed=data["preparation_confirmed"],
                force=data["force"],
                enabled=data["enabled"],
                automation=data["automation"],
            ),
            user=request.user,
            channel=Channel.API,
        )
        return Response(self.get_serializer(schedule).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ScheduleChangeSerializer,
        responses={
            200: ScheduleSerializer,
            400: OpenApiResponse(
                description="a rule was broken, as when creating; `preparation_required` "
                "when volumes are added or the automation changes without "
                "`preparation_confirmed`"
            ),
            403: OpenApiResponse(description="only the creator or a project admin may"),
        },
        description="Change any of the schedule's settings; those left out stay. Its runs "
        "and images stay; a lower `keep` applies from the next succeeded job (see "
        "`retention/`); another `cron` or `timezone` moves `next_run_at`. Recorded in the "
        "project's history.",
    )
    def partial_update(self, request, *args, **kwargs):
        schedule = self.get_object()
        given = ScheduleChangeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = dict(given.validated_data)
        confirmed = data.pop("preparation_confirmed")
        if "timezone" in data:
            data["time_zone"] = data.pop("timezone")
        schedule = change_schedule(schedule, request.user, data, confirmed=confirmed)
        return Response(self.get_serializer(schedule).data)

    @extend_schema(
        responses={
            204: None,
            403: OpenApiResponse(description="only the creator or a project admin may"),
        },
        description="No run after this; its batches, jobs and images stay (and are no longer "
        "pruned).",
    )
    def destroy(self, request, *args, **kwargs):
        delete_schedule(self.get_object(), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={
            200: ScheduleSerializer,
            403: OpenApiResponse(description="only the creator or a project admin may"),
        },
        description="No run until it is resumed.",
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        schedule = set_enabled(self.get_object(), request.user, False)
        return Response(self.get_serializer(schedule).data)

    @extend_schema(
        request=None,
        responses={
            200: ScheduleSerializer,
            403: OpenApiResponse(description="only the creator or a project admin may"),
        },
        description="Runs again from the next time to come (times passed while paused are "
        "not run).",
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        schedule = set_enabled(self.get_object(), request.user, True)
        return Response(self.get_serializer(schedule).data)

    @extend_schema(
        responses=RetentionSerializer(many=True),
        description="A dry run: the images the next run would delete if each of its jobs "
        "succeeds (per volume, those beyond the newest `keep - 1` this schedule made; a "
        "`protected` one is kept when the time comes).",
    )
    @action(detail=True, pagination_class=None, url_path="retention")
    def retention(self, request, pk=None):
        doomed = dry_run(self.get_object())
        return Response(
            RetentionSerializer(
                [
                    {
                        "job": job.pk,
                        "volume_id": job.volume_id,
                        "image_id": job.image_id,
                        "image_name": job.image_name,
                        "created_at": job.created_at,
                    }
                    for job in doomed
                ],
                many=True,
            ).data
        )
