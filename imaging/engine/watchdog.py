"""Every worker process watches the ticker, so that a killed one is replaced within seconds.

The ticker is a chain of tasks, each handing over to its successor (imaging.tasks.run_ticker).
A worker killed while it runs the ticker breaks the chain; django-q2's minute schedule would
restart it only up to 90 s later. Instead a thread in every worker process (started when
django-q2 spawns the process) looks at the ticker lease every ENGINE_WATCHDOG_SECONDS: once it
has run out — ENGINE_TICKER_LEASE_SECONDS after the ticker's last renewal — one of them (a
lease again) queues a new ticker.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from imaging import dispatch
from imaging.engine import tick
from imaging.engine.tick import TICKER
from imaging.models import EngineLease

logger = logging.getLogger(__name__)
RESTART = "ticker-restart"


def start(**kwargs) -> threading.Thread | None:
    """Receiver of django-q2's `post_spawn` (sent in each new worker process)."""
    if settings.ENGINE_WATCHDOG_SECONDS <= 0:
        return None
    thread = threading.Thread(target=_watch, name="ticker-watchdog", daemon=True)
    thread.start()
    return thread


def _watch() -> None:
    while True:
        # Spread out, so that the processes of a cluster started together do not look at once.
        time.sleep(settings.ENGINE_WATCHDOG_SECONDS * random.uniform(0.8, 1.2))  # noqa: S311
        try:
            close_old_connections()
            restart_ticker_if_stopped()
        except Exception:
            logger.exception("the ticker watchdog could not look at the ticker")


def restart_ticker_if_stopped(now: datetime | None = None) -> bool:
    """Queue a ticker if none holds the lease. Returns whether this process queued one."""
    now = now or timezone.now()
    # A ticker that ends normally releases the lease just after queueing its successor: that
    # one takes it within moments, so a lease free for less than one look is left to it.
    grace = timedelta(seconds=settings.ENGINE_WATCHDOG_SECONDS)
    held_until = EngineLease.objects.filter(name=TICKER).values_list("expires_at", flat=True)
    if held_until and held_until[0] > now - grace:
        return False
    # A holder of its own each time: not even this process queues a second one meanwhile.
    restart = f"{tick.HOLDER}:{uuid.uuid4().hex[:6]}"
    if not EngineLease.acquire(RESTART, restart, settings.ENGINE_TICKER_LEASE_SECONDS * 2):
        return False  # a ticker was queued a moment ago
    logger.warning("no engine ticker holds the lease; queueing a new one")
    dispatch.enqueue(dispatch.RUN_TICKER)
    return True
