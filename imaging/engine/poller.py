"""Polling many projects at once: their K5 lists fetched by a bounded pool of threads, every
decision taken in the caller's thread.

A K5 listing takes hundreds of milliseconds; one project after another, 250 projects cost
minutes per tick. The wait is all I/O, so a few dozen threads fetch the lists of as many
projects at a time, each under a deadline of its own (ENGINE_POLL_DEADLINE_SECONDS, through
imaging.k5.deadline: every call, retry and sign-in of that project shares it), so one slow
project holds one thread, never the others. What each project's lists mean for its jobs is
decided serially, in the thread that owns the poller, exactly as a serial poll decides it:
the project's lease is held from before its jobs are read until its lists are applied, and
every job move is the same conditional UPDATE.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, connections

from imaging.engine.polling import Listing, fetch_listing
from imaging.k5 import deadline as k5_deadline
from imaging.models import ImageJob, K5Project

logger = logging.getLogger(__name__)
THREAD_NAME = "k5-poll"


@dataclass
class Pending:
    """A project whose lists are being fetched: its lease is held until they are applied."""

    project: K5Project
    jobs: list[ImageJob]
    lease: str
    future: Future[Listing]
    started: float  # time.monotonic()


class Poller:
    """Fetches projects' lists in up to `threads` threads; the owner applies them.

    Not thread-safe itself: one owner (a tick, a ticker run) submits and collects.
    """

    def __init__(self, threads: int | None = None, deadline: float | None = None):
        self.threads = settings.ENGINE_POLL_THREADS if threads is None else threads
        self.deadline = settings.ENGINE_POLL_DEADLINE_SECONDS if deadline is None else deadline
        self.pending: dict[int, Pending] = {}
        self._executor: ThreadPoolExecutor | None = None

    @property
    def concurrent(self) -> bool:
        """Threads have database connections of their own (a sign-in takes a lease): they
        cannot see what an open transaction of the caller wrote — a test's, a benchmark's
        rolled-back tick — so inside one every project is polled inline."""
        return self.threads > 1 and not connection.in_atomic_block

    def submit(self, project: K5Project, jobs: list[ImageJob], lease: str) -> Pending:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix=THREAD_NAME)
        future = self._executor.submit(self.fetch, project, jobs)
        pending = Pending(project, jobs, lease, future, time.monotonic())
        self.pending[project.pk] = pending
        return pending

    def fetch(self, project: K5Project, jobs: list[ImageJob]) -> Listing:
        """One project's lists, within its deadline. Runs in a pool thread, or inline."""
        try:
            with k5_deadline.within(self.deadline):
                return fetch_listing(project, jobs)
        finally:
            if threading.current_thread().name.startswith(THREAD_NAME):
                # A sign-in opened this thread's own connection: do not leave it idle.
                connections.close_all()

    def finished(self, timeout: float | None) -> Iterator[Pending]:
        """The pending projects whose lists have arrived, waiting up to `timeout` seconds
        (None: until at least one has) for the first of them."""
        if not self.pending:
            return
        futures = {p.future: p for p in self.pending.values()}
        done, _ = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            pending = futures[future]
            del self.pending[pending.project.pk]
            yield pending

    def close(self) -> None:
        """Stop the threads. Call after every pending project was collected: a fetch still
        running is abandoned (its deadline ends it soon), and its lease runs out."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
