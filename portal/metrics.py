"""Prometheus metrics at /metrics (text format), behind the monitoring token.

Two kinds:
- what processes see as it happens — K5 calls, engine ticks, detection lag, K5 sign-in
  failures — counted in the process that saw it. Under gunicorn and the qcluster there are many
  processes: with PROMETHEUS_MULTIPROC_DIR set, each writes its numbers to files in that
  directory and a scrape adds them up (prometheus-client's multiprocess mode). Web and worker
  processes of one host share the directory, so one scrape sees both.
- what the database knows — jobs by state, queue depth, upload budget, the last tick, K5 as
  the last poll found it — computed at scrape time by DatabaseCollector, the same from any
  host (aggregate these with max, not sum, when several hosts are scraped).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from portal.monitoring import has_monitoring_token

logger = logging.getLogger(__name__)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Files are named after the process; containers sharing the directory each have a pid 7,
    # so the host name goes into the name too.
    values.ValueClass = values.MultiProcessValue(
        process_identifier=lambda: f"{socket.gethostname()}-{os.getpid()}"
    )

PROCESS_REGISTRY = CollectorRegistry()
_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

K5_CALLS = Counter(
    "k5portal_k5_calls",
    "HTTP calls to K5 by service, method and answer (status code, or 'error': no answer).",
    ["service", "method", "status"],
    registry=PROCESS_REGISTRY,
)
K5_CALL_SECONDS = Histogram(
    "k5portal_k5_call_duration_seconds",
    "Time K5 took to answer, by service and method.",
    ["service", "method"],
    buckets=_SECONDS,
    registry=PROCESS_REGISTRY,
)
K5_SIGN_IN_FAILURES = Counter(
    "k5portal_k5_sign_in_failures",
    "Token requests to K5 that were refused or got no answer, by portal project.",
    ["project"],
    registry=PROCESS_REGISTRY,
)
TICK_SECONDS = Histogram(
    "k5portal_engine_tick_duration_seconds",
    "Time one engine tick took (start due uploads, poll every project with active jobs).",
    buckets=_SECONDS,
    registry=PROCESS_REGISTRY,
)
DETECTION_LAG = Histogram(
    "k5portal_engine_detection_lag_seconds",
    "From K5 marking an image active (its updated_at, K5's clock) to the engine moving the "
    "job out of uploading.",
    buckets=(1, 2.5, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600),
    registry=PROCESS_REGISTRY,
)


def count_k5_call(project: str, record) -> None:
    """Count one K5 call (an imaging.k5.CallRecord) of `project`'s client."""
    service = record.service or "unknown"
    K5_CALLS.labels(service, record.method, str(record.status or "error")).inc()
    K5_CALL_SECONDS.labels(service, record.method).observe(max(record.duration, 0.0))
    if service == "identity" and record.method == "POST" and (record.status or 500) >= 400:
        K5_SIGN_IN_FAILURES.labels(project).inc()


def observe_detection_lag(active_since: datetime | None, seen_at: datetime) -> None:
    if active_since is not None:
        # K5's clock and ours differ by a little; a lag below zero is that difference.
        DETECTION_LAG.observe(max((seen_at - active_since).total_seconds(), 0.0))


class DatabaseCollector:
    """Gauges read from the database at scrape time (a few queries per project)."""

    def collect(self) -> Iterator[Metric]:
        try:
            families = list(self._families())
        except DatabaseError as exc:
            logger.warning("metrics: the database did not answer: %s", exc)
            families = []
        up = GaugeMetricFamily(
            "k5portal_database_up", "1 when the database answered this scrape's queries."
        )
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        from django.db.models import Count

        from imaging.dispatch import PENDING_GRACE
        from imaging.engine.pacing import budget
        from imaging.models import EngineHeartbeat, ImageJob, JobState, K5Project, PendingTask

        projects = list(K5Project.objects.select_related("last_poll").order_by("name"))
        names = {project.pk: project.name for project in projects}
        jobs = GaugeMetricFamily(
            "k5portal_jobs",
            "Jobs by project and state (until pruned).",
            labels=["project", "state"],
        )
        counts = (
            ImageJob.objects.order_by().values_list("project_id", "state").annotate(n=Count("id"))
        )
        found = {(names[pid], state): n for pid, state, n in counts if pid in names}
        for project in projects:
            for state in JobState.values:
                jobs.add_metric([project.name, state], found.get((project.name, state), 0))
        yield jobs

        queue = GaugeMetricFamily(
            "k5portal_queue_depth", "Jobs waiting for an upload slot.", labels=["project"]
        )
        limit = GaugeMetricFamily(
            "k5portal_upload_budget_limit", "Uploads K5 allows per window.", labels=["project"]
        )
        used = GaugeMetricFamily(
            "k5portal_upload_budget_used",
            "Uploads counted in the current rolling window.",
            labels=["project"],
        )
        polled_ok = GaugeMetricFamily(
            "k5portal_k5_last_poll_ok",
            "1 when K5 answered the engine's last poll of the project, else 0.",
            labels=["project"],
        )
        polled_at = GaugeMetricFamily(
            "k5portal_k5_last_poll_timestamp_seconds",
            "When the engine last polled the project.",
            labels=["project"],
        )
        rejected = GaugeMetricFamily(
            "k5portal_k5_credentials_invalid",
            "1 while K5's rejection of the project's credential stops every call.",
            labels=["project"],
        )
        for project in projects:
            allowance = budget(project)
            queue.add_metric([project.name], found.get((project.name, JobState.QUEUED), 0))
            limit.add_metric([project.name], allowance.limit)
            used.add_metric([project.name], allowance.used)
            rejected.add_metric([project.name], 0 if project.credentials_valid else 1)
            poll = getattr(project, "last_poll", None)
            if poll is not None:
                polled_ok.add_metric([project.name], 1 if poll.ok else 0)
                polled_at.add_metric([project.name], poll.polled_at.timestamp())
        yield from (queue, limit, used, polled_ok, polled_at, rejected)

        yield GaugeMetricFamily(
            "k5portal_tasks_waiting_for_broker",
            "Tasks saved with their commit that the broker has not taken for over a minute "
            "(Redis down, or no engine tick to queue them).",
            value=PendingTask.objects.filter(
                created_at__lte=timezone.now() - PENDING_GRACE
            ).count(),
        )

        beat = EngineHeartbeat.last()
        if beat is not None:
            yield GaugeMetricFamily(
                "k5portal_engine_last_tick_timestamp_seconds",
                "When the engine last completed a tick.",
                value=beat.ticked_at.timestamp(),
            )


class _ThisProcess:
    """The process registry's metrics, when there is no multiprocess directory to read."""

    def collect(self) -> Iterator[Metric]:
        yield from PROCESS_REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return registry


@never_cache
@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """404 unless METRICS_TOKEN is set; then 401 without `Authorization: Bearer <token>`."""
    if not settings.METRICS_TOKEN:
        return HttpResponse("Not found\n", status=404, content_type="text/plain")
    if not has_monitoring_token(request):
        response = HttpResponse("A bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain"
        return response
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
