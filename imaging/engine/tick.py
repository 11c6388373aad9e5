"""The engine tick: start due uploads and poll every project with active jobs.

Safe to run on several hosts at once: each project is claimed with a short lease before it is
worked on, and every job move is a conditional UPDATE. django-q2's scheduler fires once a
minute, so a chain of `run_ticker` tasks (see imaging.tasks.run_ticker) ticks every
ENGINE_TICK_SECONDS, under a cluster-wide lease so that only one such loop runs at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, transaction

from imaging import dispatch
from imaging.engine import heartbeat
from imaging.engine.pacing import start_due_uploads
from imaging.engine.polling import poll_project
from imaging.models import ACTIVE_STATES, EngineLease, K5Project
from portal.logs import log_context

logger = logging.getLogger(__name__)
HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class TickReport:
    projects: int = 0
    skipped: int = 0
    started: int = 0
    moved: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def tick() -> TickReport:
    began = time.monotonic()
    report = TickReport()
    lease_seconds = max(settings.ENGINE_TICK_SECONDS * 3, 60)
    projects = K5Project.objects.filter(jobs__state__in=ACTIVE_STATES).distinct()
    for project in projects:
        with log_context(project=project.name):
            lease = f"project:{project.pk}"
            if not EngineLease.acquire(lease, HOLDER, lease_seconds):
                report.skipped += 1  # another host is on it
                continue
            try:
                report.projects += 1
                report.started += len(start_uploads(project))
                result = poll_project(project)
                heartbeat.project_polled(project, result.jobs, result.error)
                for outcome, count in result.moved.items():
                    report.moved[outcome] = report.moved.get(outcome, 0) + count
                if result.error:
                    report.errors[project.name] = result.error
            except Exception:
                logger.exception("tick failed for project %s", project.name)
                report.errors[project.name] = "internal error; see the worker log"
            finally:
                EngineLease.release(lease, HOLDER)
    heartbeat.tick_finished(time.monotonic() - began, report.projects)
    return report


def start_uploads(project: K5Project) -> list[int]:
    """Take the free slots and hand each started job to a worker after the commit."""
    with transaction.atomic():
        started = [job.pk for job in start_due_uploads(project)]
        for job_id in started:
            dispatch.enqueue(dispatch.SEND_UPLOAD, job_id)
    return started


def run_ticker(duration: float | None = None, interval: float | None = None) -> int:
    """Tick every `interval` seconds for `duration` seconds; returns the number of ticks.

    Only one ticker runs at a time across all hosts; a second one returns at once.
    """
    duration = settings.ENGINE_TICKER_SECONDS if duration is None else duration
    interval = settings.ENGINE_TICK_SECONDS if interval is None else interval
    if not EngineLease.acquire("ticker", HOLDER, duration + interval + 30):
        return 0
    ticks = 0
    deadline = time.monotonic() + duration
    try:
        while True:
            began = time.monotonic()
            close_old_connections()
            report = tick()
            ticks += 1
            if report.started or report.moved or report.errors:
                logger.info("tick: %s", report)
            pause = interval - (time.monotonic() - began)
            if time.monotonic() + max(pause, 0) >= deadline:
                break
            time.sleep(max(pause, 0))
    finally:
        EngineLease.release("ticker", HOLDER)
    return ticks
