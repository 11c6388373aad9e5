"""The engine tick: start due uploads and poll every project with active jobs.

Safe to run on several hosts at once: each project is claimed with a lease before it is worked
on, and every job move is a conditional UPDATE. Projects are polled concurrently (their K5
lists fetched by imaging.engine.poller's threads), each project's decisions serially in the
tick's own thread. django-q2's scheduler fires once a minute, so a chain of `run_ticker` tasks
(see imaging.tasks.run_ticker) ticks every ENGINE_TICK_SECONDS under a short cluster-wide
lease, renewed while ticking; when it runs out, every worker process's watchdog
(imaging.engine.watchdog) queues a new ticker.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from imaging import dispatch
from imaging.engine import automation, heartbeat, schedules
from imaging.engine.pacing import start_due_uploads
from imaging.engine.poller import Pending, Poller
from imaging.engine.polling import PollResult, apply_listing, polled_jobs
from imaging.models import ACTIVE_STATES, EngineLease, JobState, K5Project
from portal.logs import log_context

logger = logging.getLogger(__name__)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# Who holds the leases this process takes. django-q2 forks its workers from a process that has
# imported this module already: each child needs a name of its own, or every worker of a
# cluster would pass for the holder of every other's leases.
HOLDER = _holder()


def _renamed_after_fork() -> None:
    global HOLDER
    HOLDER = _holder()


os.register_at_fork(after_in_child=_renamed_after_fork)
TICKER = "ticker"
PROJECT = "project:"
# A fetch past its deadline by this much is given up (its lease then runs out).
OVERDUE_SECONDS = 5.0
# The longest the ticker waits in one go, so that it renews its lease in time.
WAIT_SLICE_SECONDS = 1.0


@dataclass
class TickReport:
    projects: int = 0  # taken by this tick
    skipped: int = 0  # another host is on them
    still_polling: int = 0  # an earlier round's fetch still runs (a slow K5 project)
    polled: int = 0  # lists applied
    started: int = 0
    automated: int = 0  # automation steps that acted or finished
    moved: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    applied_at: float | None = None  # time.monotonic() of the last lists applied

    def add(self, project: K5Project, result: PollResult) -> None:
        heartbeat.project_polled(project, result.jobs, result.error)
        self.applied_at = time.monotonic()
        self.polled += 1
        for outcome, count in result.moved.items():
            self.moved[outcome] = self.moved.get(outcome, 0) + count
        if result.error:
            self.errors[project.name] = result.error


def tick(
    poller: Poller | None = None,
    *,
    until: float | None = None,
    keep: Callable[[], bool] | None = None,
) -> TickReport:
    """One round over every project with active jobs.

    Alone (no `poller`), it waits until every project it took has been polled, each within
    its deadline. A ticker run passes its own poller and `until` (time.monotonic()): the round
    then returns at `until`, leaving slower projects' fetches in flight; they are applied in a
    later round and skipped until then. `keep` is asked between steps; False (the ticker lease
    was lost) stops the round.
    """
    # First the tasks recorded after a commit that the broker could not take then (Redis was
    # down): a cancelled job's notice, an upload's start (imaging.dispatch).
    dispatch.send_pending()
    run_schedules()
    own = poller is None
    poller = poller or Poller()
    report = TickReport()
    began = time.monotonic()
    try:
        collect(poller, report, until=time.monotonic(), keep=keep)  # arrived meanwhile
        for project in due_projects():
            if keep is not None and not keep():
                break
            if project.pk in poller.pending:
                report.still_polling += 1
                continue
            with log_context(project=project.name):
                take(project, poller, report)
        collect(poller, report, until=until, keep=keep)
    finally:
        if own:
            poller.close()
    # The round's own time: until the last of its projects' lists was applied (a project left
    # in flight for a later round is not waited for).
    heartbeat.tick_finished((report.applied_at or time.monotonic()) - began, report.projects)
    return report


def run_schedules() -> None:
    """Start the schedules' runs that are due (their jobs are checked by a worker)."""
    try:
        schedules.run_due()
    except Exception:
        logger.exception("the schedules could not be run this tick")


def due_projects() -> QuerySet[K5Project]:
    """Projects with active jobs, every tick; projects whose only followed jobs succeeded
    lately (their images still read for a late sync failure), every
    ENGINE_SYNC_WATCH_INTERVAL_SECONDS — one image list, not one call per job."""
    now = timezone.now()
    quiet_since = now - timedelta(seconds=settings.ENGINE_SYNC_WATCH_INTERVAL_SECONDS)
    watched = (
        Q(
            jobs__state=JobState.SUCCEEDED,
            jobs__finished_at__gte=now - timedelta(hours=settings.ENGINE_SYNC_WATCH_HOURS),
        )
        & ~Q(jobs__image_id="")
        & (Q(last_poll__isnull=True) | Q(last_poll__polled_at__lte=quiet_since))
    )
    return (
        K5Project.objects.filter(
            Q(jobs__state__in=ACTIVE_STATES) | Q(jobs__steps_open=True) | watched
        )
        .distinct()
        .order_by("pk")
    )


def take(project: K5Project, poller: Poller, report: TickReport) -> None:
    """Start the project's due uploads, then poll it: in a pool thread (its lease is released
    when the lists are applied) or, inline, at once."""
    lease = f"{PROJECT}{project.pk}"
    if not EngineLease.acquire(lease, HOLDER, project_lease_seconds(poller)):
        report.skipped += 1  # another host is on it
        return
    report.projects += 1
    submitted = False
    try:
        report.started += len(start_uploads(project))
        jobs = polled_jobs(project)
        if jobs and poller.concurrent:
            poller.submit(project, jobs, lease)
            submitted = True
        elif jobs:
            report.add(project, apply_listing(project, jobs, poller.fetch(project, jobs)))
            automate(project, report)
        else:
            automate(project, report)
    except Exception:
        logger.exception("tick failed for project %s", project.name)
        report.errors[project.name] = "internal error; see the worker log"
    finally:
        if not submitted:
            EngineLease.release(lease, HOLDER)


def automate(project: K5Project, report: TickReport) -> None:
    """Stop, snapshot, restore, start: each automated job of the project moved on by one look
    at K5 — after its lists are applied, so a server is started in the tick that saw its
    copy end. Under the project's lease, like the poll."""
    try:
        report.automated += automation.advance_project(project)
    except Exception:
        logger.exception("automation failed for project %s", project.name)
        report.errors[project.name] = "internal error in automation; see the worker log"


def project_lease_seconds(poller: Poller) -> float:
    """Held from taking the project until its lists are applied: the fetch's deadline, and
    time for the tick's thread to come round to it."""
    return poller.deadline + OVERDUE_SECONDS + max(settings.ENGINE_TICK_SECONDS * 3, 60)


def collect(
    poller: Poller,
    report: TickReport,
    *,
    until: float | None,
    keep: Callable[[], bool] | None = None,
) -> None:
    """Apply the lists that arrive until `until` (time.monotonic()), or — None — until every
    pending project is done or overdue."""
    while poller.pending:
        if keep is not None and not keep():
            return
        now = time.monotonic()
        if until is not None:
            left = until - now
        else:
            left = min(p.started for p in poller.pending.values()) + _give_up_after(poller) - now
        arrived = list(poller.finished(min(max(left, 0), WAIT_SLICE_SECONDS)))
        for pending in arrived:
            apply(pending, report)
        if arrived or left > 0:
            continue
        if until is not None:
            return
        for pending in _overdue(poller):
            logger.error("polling %s outlived its deadline; given up", pending.project.name)
            report.errors[pending.project.name] = "K5 did not answer within the deadline"


def apply(pending: Pending, report: TickReport) -> None:
    try:
        listing = pending.future.result()
        with log_context(project=pending.project.name):
            report.add(pending.project, apply_listing(pending.project, pending.jobs, listing))
            automate(pending.project, report)
    except Exception:
        logger.exception("tick failed for project %s", pending.project.name)
        report.errors[pending.project.name] = "internal error; see the worker log"
    finally:
        EngineLease.release(pending.lease, HOLDER)


def _give_up_after(poller: Poller) -> float:
    return poller.deadline + OVERDUE_SECONDS


def _overdue(poller: Poller) -> list[Pending]:
    limit = time.monotonic() - _give_up_after(poller)
    overdue = [p for p in poller.pending.values() if p.started <= limit]
    for pending in overdue:
        del poller.pending[pending.project.pk]
    return overdue


def start_uploads(project: K5Project) -> list[int]:
    """Take the free slots and hand each started job to a worker after the commit."""
    with transaction.atomic():
        started = [job.pk for job in start_due_uploads(project)]
        for job_id in started:
            dispatch.enqueue(dispatch.SEND_UPLOAD, job_id)
    return started


class TickerLease:
    """The cluster-wide ticker lease: short, and renewed while ticking, so that a killed
    ticker is noticed within ENGINE_TICKER_LEASE_SECONDS (imaging.engine.watchdog)."""

    def __init__(self, seconds: float | None = None):
        self.seconds = settings.ENGINE_TICKER_LEASE_SECONDS if seconds is None else seconds
        self._renewed = 0.0

    def take(self) -> bool:
        previous = EngineLease.objects.filter(name=TICKER).values_list("holder", flat=True).first()
        if not EngineLease.acquire(TICKER, HOLDER, self.seconds):
            return False
        self._renewed = time.monotonic()
        if previous and previous != HOLDER:
            # A ticker that died still holds the leases of the projects it was polling; they
            # would keep those projects unpolled until they ran out. A ticker that ended
            # normally released its own, so this frees nothing then.
            EngineLease.objects.filter(name__startswith=PROJECT, holder=previous).update(
                expires_at=timezone.now()
            )
        return True

    def keep(self) -> bool:
        """Renew the lease if a third of it has passed; False when another ticker has it."""
        if time.monotonic() - self._renewed < self.seconds / 3:
            return True
        if EngineLease.acquire(TICKER, HOLDER, self.seconds):
            self._renewed = time.monotonic()
            return True
        logger.warning("the ticker lease was taken over; this ticker stops")
        return False

    def release(self) -> None:
        EngineLease.release(TICKER, HOLDER)


def run_ticker(duration: float | None = None, interval: float | None = None) -> int:
    """Tick every `interval` seconds for `duration` seconds; returns the number of ticks.

    Only one ticker runs at a time across all hosts; a second one returns at once. Between
    ticks it applies the lists of projects still being fetched.
    """
    duration = settings.ENGINE_TICKER_SECONDS if duration is None else duration
    interval = settings.ENGINE_TICK_SECONDS if interval is None else interval
    lease = TickerLease()
    if not lease.take():
        return 0
    poller = Poller()
    ticks = 0
    end = time.monotonic() + duration
    began = time.monotonic()
    try:
        while lease.keep():
            began = time.monotonic()
            close_old_connections()
            report = tick(poller, until=min(began + interval, end), keep=lease.keep)
            ticks += 1
            _log(report)
            if began + interval >= end:
                break
            _pause(until=began + interval, keep=lease.keep)
        # Fetches still running: applied before the lease goes to the successor.
        report = TickReport()
        collect(poller, report, until=None, keep=lease.keep)
        _log(report)
        # The successor ticks as soon as it starts: it must not come before the next tick is
        # due, or every handover would add a round (K5 asked 7 times a minute, not 6).
        _pause(until=began + interval, keep=lease.keep)
    finally:
        poller.close()
        lease.release()
    return ticks


def _pause(*, until: float, keep: Callable[[], bool]) -> None:
    while (left := until - time.monotonic()) > 0 and keep():
        time.sleep(min(left, WAIT_SLICE_SECONDS))


def _log(report: TickReport) -> None:
    if report.started or report.moved or report.errors or report.automated:
        logger.info("tick: %s", report)
