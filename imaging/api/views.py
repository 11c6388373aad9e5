"""API v1 views: thin — permissions and filters declared, the engine's services do the work."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import translation
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from imaging.access import (
    projects_showing_addresses,
    roles_in,
    visible_events,
    visible_jobs,
    visible_projects,
)
from imaging.api.idempotency import IDEMPOTENCY_KEY, idempotency_key
from imaging.api.pagination import Pages
from imaging.api.renderers import BrowsableAPIRenderer, CSVRenderer
from imaging.api.schema import ApiSchema
from imaging.api.serializers import (
    RETRIED_JOB_SCHEMA,
    EventSerializer,
    JobCreateSerializer,
    JobSerializer,
    ProjectSerializer,
    RetryPreviewSerializer,
    RetrySerializer,
    VolumeSerializer,
    steps_by_job,
    zones_by_job,
)
from imaging.engine.automation import mark_step_done, restore_now, retry_step
from imaging.engine.errors import english
from imaging.engine.inventory import no_inventory_yet, project_inventory
from imaging.engine.pacing import budget, queue_forecasts
from imaging.engine.remedy import cancel_job, queue_retry, retry_consequence, retry_preview
from imaging.engine.submission import submit_job
from imaging.engine.validation import Submission
from imaging.filtersets import EventFilterSet, JobFilterSet
from imaging.messages import read_in, stop_reading
from imaging.models import Channel, StepName
from imaging.preferences import api_reader_language
from portal.addresses import client_address


class InEnglish:
    # Tools parse what the API says, so it says it in English whatever the client's language
    # (the engine's refusals are English for the same reason). Set before authentication, so
    # that every message of the request, errors included, is English. (A comment, not a
    # docstring: the schema would show a docstring as every operation's description.)
    schema = ApiSchema()

    def initial(self, request, *args, **kwargs):
        translation.activate("en")
        request.LANGUAGE_CODE = "en"
        super().initial(request, *args, **kwargs)
        # Except the portal's own messages about jobs (events, errors, waiting reasons): those
        # read in the Accept-Language, else the user's saved language, with their `code`
        # beside them for tools.
        self._reading = read_in(api_reader_language(request))

    def finalize_response(self, request, response, *args, **kwargs):
        reading = getattr(self, "_reading", None)
        if reading is not None:
            stop_reading(reading)
            self._reading = None
        return super().finalize_response(request, response, *args, **kwargs)


class ProjectViewSet(InEnglish, viewsets.ReadOnlyModelViewSet):
    serializer_class = ProjectSerializer
    pagination_class = None

    def get_queryset(self):
        return visible_projects(self.request.user).order_by("name")

    def list(self, request, *args, **kwargs):
        projects = list(self.get_queryset())
        return Response(
            self.get_serializer(projects, many=True, context=self._context(projects)).data
        )

    def retrieve(self, request, *args, **kwargs):
        project = self.get_object()
        return Response(self.get_serializer(project, context=self._context([project])).data)

    def _context(self, projects):
        """Roles and upload budgets of the projects shown, and of no others."""
        return {
            **self.get_serializer_context(),
            "roles": roles_in(self.request.user, projects),
            "budgets": {p.pk: budget(p) for p in projects},
        }

    @extend_schema(
        responses={
            200: VolumeSerializer(many=True),
            503: OpenApiResponse(
                description="K5 has never given this project's volumes, and did not within "
                "K5_REQUEST_BUDGET_SECONDS (`k5_unavailable`, with Retry-After)"
            ),
        },
        parameters=[
            OpenApiParameter(
                "refresh",
                bool,
                description="ask for a new K5 list (coalesced: at most one per "
                "K5_INVENTORY_MIN_SECONDS) and wait for it up to K5_REQUEST_BUDGET_SECONDS; "
                "otherwise the last list is answered, and a new one asked for once it is "
                "older than K5_INVENTORY_CACHE_SECONDS",
            )
        ],
    )
    @action(detail=True, pagination_class=None)
    def volumes(self, request, pk=None):
        project = self.get_object()
        refresh = request.query_params.get("refresh", "").lower()
        if refresh not in YES | NO:
            raise ValidationError({"refresh": ["true or false."]})
        # Answered from the last K5 list; a new one is listed by a worker. A tool that asks
        # for a refresh (or the very first list) waits for it, within the request budget.
        budget = settings.K5_REQUEST_BUDGET_SECONDS
        inventory = project_inventory(
            project,
            refresh=refresh in YES,
            wait=budget if refresh in YES else 0,
            wait_for_first=budget,
        )
        if not inventory.known:
            raise no_inventory_yet(inventory)
        response = Response(VolumeSerializer(inventory.rows, many=True).data)
        response["X-Refreshed-At"] = inventory.refreshed_at.isoformat()
        response["X-Refreshing"] = "true" if inventory.refreshing else "false"
        if inventory.error:
            response["X-Refresh-Error"] = _header_text(inventory.error)
        return response


def _header_text(text: str) -> str:
    """An HTTP header value: one line of printable ASCII."""
    return " ".join(text.encode("ascii", "replace").decode().split())[:500]


STEP_PATH = r"steps/(?P<step>[a-z_]+)/"
STEP_PARAMETER = OpenApiParameter(
    "step",
    {"type": "string", "enum": StepName.values},
    OpenApiParameter.PATH,
    description="the step's name, as in the job's `steps`",
)
YES, NO = {"1", "true", "yes"}, {"", "0", "false", "no"}


class JobViewSet(
    InEnglish,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = JobSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = JobFilterSet
    pagination_class = Pages
    parser_classes = [JSONParser]  # the contract is JSON; a form post is 415

    def get_queryset(self):
        return (
            visible_jobs(self.request.user).select_related("project").order_by("-created_at", "-id")
        )

    def list(self, request, *args, **kwargs):
        jobs = self.filter_queryset(self.get_queryset()).only(*JobSerializer.columns)
        page = self.paginate_queryset(jobs)
        serializer = self.get_serializer(page, many=True, context=self._context(page))
        return self.get_paginated_response(serializer.data)

    def retrieve(self, request, *args, **kwargs):
        job = self.get_object()
        return Response(self.get_serializer(job, context=self._context([job])).data)

    def _context(self, jobs):
        return {
            **self.get_serializer_context(),
            "forecasts": queue_forecasts(jobs),
            "zones": zones_by_job(jobs),
            "steps": steps_by_job(jobs),
        }

    @extend_schema(
        request=JobCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: JobSerializer,
            200: JobSerializer,
            400: OpenApiResponse(
                description="a rule was broken: `code` names it, `fields` the field (e.g. "
                "`automation_not_applicable`: the automation does not fit the volume)"
            ),
            403: OpenApiResponse(description="viewers cannot submit"),
            404: OpenApiResponse(description="no such project or volume"),
            409: OpenApiResponse(
                description="volume busy, image name used, or this "
                "Idempotency-Key was used for another request"
            ),
            415: OpenApiResponse(description="the body must be JSON"),
            503: OpenApiResponse(description="K5 could not be asked"),
        },
    )
    def create(self, request, *args, **kwargs):
        given = JobCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        project = get_object_or_404(visible_projects(request.user), pk=data["project"])
        submission = Submission(
            project=project,
            volume_id=data["volume_id"],
            image_name=data["image_name"],
            preparation_confirmed=data["preparation_confirmed"],
            force=data["force"],
            os_stopped_confirmed=data["os_stopped_confirmed"],
            os_family=data["os_family"],
            disk_format=data["disk_format"],
            container_format=data["container_format"],
            automation=data["automation"],
            keep_snapshot=data["keep_snapshot"],
        )
        key = idempotency_key(request)
        options = {
            "user": request.user,
            "channel": Channel.API,
            "idempotency_key": key,
            "client_address": client_address(request),
        }
        # Answered from the job as it was written (not read back): it is the row.
        job, created = submit_job(submission, **options)
        return Response(
            self.get_serializer(job, context=self._context([job])).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            403: OpenApiResponse(description="only the requester or a project admin may"),
            409: OpenApiResponse(
                description="the job can no longer be cancelled (it reached K5, or ended)"
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = cancel_job(self.get_object(), request.user)
        return Response(self.get_serializer(job, context=self._context([job])).data)

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={
            200: RetryPreviewSerializer,
            403: OpenApiResponse(description="only the requester or a project admin may"),
            409: OpenApiResponse(
                description="only failed or sync-failed jobs can be retried, once"
            ),
            503: OpenApiResponse(description="K5 could not be asked"),
        },
        description="What a retry would do with the job's image, asked of K5 now, before "
        "anything is queued.",
    )
    @extend_schema(
        methods=["POST"],
        request=RetrySerializer,
        responses={
            201: OpenApiResponse(response=RETRIED_JOB_SCHEMA),
            400: OpenApiResponse(description="the volume no longer passes a rule"),
            403: OpenApiResponse(description="only the requester or a project admin may"),
            409: OpenApiResponse(
                description="only failed or sync-failed jobs can be retried, once; or the "
                "image name is taken (a kept old image holds the job's name)"
            ),
            503: OpenApiResponse(description="K5 could not be asked"),
        },
    )
    @action(detail=True, methods=["get", "post"])
    def retry(self, request, pk=None):
        job = self.get_object()
        if request.method == "GET":
            plan = retry_preview(job, request.user)
            consequence = retry_consequence(job, plan)
            return Response(
                {
                    "replaces_image": plan.as_dict() if plan is not None else None,
                    "message": english(consequence)
                    if consequence is not None
                    else "K5 holds no image of this job: nothing will be deleted.",
                    "image_name": None if plan is not None and plan.kept else job.image_name,
                }
            )
        given = RetrySerializer(data=request.data or {})
        given.is_valid(raise_exception=True)
        queued = queue_retry(
            job,
            request.user,
            channel=Channel.API,
            client_address=client_address(request),
            image_name=given.validated_data.get("image_name") or None,
        )
        new = self.get_queryset().get(pk=queued.job.pk)
        plan = queued.replaces_image
        return Response(
            {
                **self.get_serializer(new, context=self._context([new])).data,
                "replaces_image": plan.as_dict() if plan is not None else None,
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=None,
        parameters=[STEP_PARAMETER],
        responses={
            200: JobSerializer,
            403: OpenApiResponse(description="only the requester or a project admin may"),
            404: OpenApiResponse(description="no such job, or the job has no such step"),
            409: OpenApiResponse(
                description="only a step that did not succeed (`failed`) can be retried"
            ),
        },
        description="Try an automation step K5 refused again (after fixing the cause).",
    )
    @action(detail=True, methods=["post"], url_path=STEP_PATH + "retry", url_name="step-retry")
    def step_retry(self, request, pk=None, step=None):
        job = self.get_object()
        retry_step(job, step, request.user)
        return self._answer(job)

    @extend_schema(
        request=None,
        parameters=[STEP_PARAMETER],
        responses={
            200: JobSerializer,
            403: OpenApiResponse(description="only the requester or a project admin may"),
            404: OpenApiResponse(description="no such job, or the job has no such step"),
            409: OpenApiResponse(
                description="only a step that did not succeed (`failed`) can be marked done, "
                "and not the snapshot (the restore needs the id K5 gives it)"
            ),
        },
        description="Say that you did a failed automation step in K5 by hand (stopped or "
        "started the server, restored or deleted the snapshot); the job goes on from there.",
    )
    @action(
        detail=True, methods=["post"], url_path=STEP_PATH + "mark-done", url_name="step-mark-done"
    )
    def step_mark_done(self, request, pk=None, step=None):
        job = self.get_object()
        mark_step_done(job, step, request.user)
        return self._answer(job)

    @extend_schema(
        request=None,
        responses={
            200: JobSerializer,
            403: OpenApiResponse(description="only the requester or a project admin may"),
            409: OpenApiResponse(
                description="only a Windows round trip that ended with its server still "
                "Sysprep'd (and was not retried) can be restored"
            ),
        },
        description="Restore a Windows round trip's server without an image: the snapshot "
        "taken before Sysprep is restored, the server started, the snapshot deleted (unless "
        "kept). The engine does it; follow the job's steps.",
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        job = self.get_object()
        restore_now(job, request.user)
        return self._answer(job)

    def _answer(self, job):
        job = self.get_queryset().get(pk=job.pk)
        return Response(self.get_serializer(job, context=self._context([job])).data)

    @extend_schema(responses=EventSerializer(many=True), filters=False)
    @action(detail=True, pagination_class=Pages, url_name="events", filter_backends=[])
    def events(self, request, pk=None):
        job = self.get_object()
        page = self.paginate_queryset(
            job.events.select_related("project").order_by("created_at", "id")
        )
        showing = projects_showing_addresses(request.user)
        return self.get_paginated_response(
            EventSerializer(page, many=True, context={"showing_addresses": showing}).data
        )


class EventListView(InEnglish, ListAPIView):
    """Audit events of every project the caller may see; `?format=csv` for a spreadsheet."""

    serializer_class = EventSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = EventFilterSet
    pagination_class = Pages
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    permission_classes = [IsAuthenticated]

    def get_serializer_context(self):
        return {
            **super().get_serializer_context(),
            "showing_addresses": projects_showing_addresses(self.request.user),
        }

    def get_queryset(self):
        return (
            visible_events(self.request.user)
            .select_related("project")
            .order_by("-created_at", "-id")
        )
