"""A total time budget for several K5 calls, so that a web request never waits on K5 for long.

    with deadline.within(10):
        volume = blockstorage.volume_get(client, volume_id)   # each call, its retries and a
        ...                                                   # sign-in share the 10 s

Each call's connect and read timeouts are cut to what is left, a retry is not started when its
pause would outlast the budget, and a call begun with nothing left raises K5TooSlow without
being sent. Workers set no deadline: their calls keep the configured timeouts.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import K5Unavailable

_deadline: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "k5_deadline", default=None
)


class K5TooSlow(K5Unavailable):
    """K5 did not answer within the time the caller could wait; nothing more was sent."""


@contextmanager
def within(seconds: float) -> Iterator[None]:
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left in the current budget, or None when there is none."""
    current = _deadline.get()
    return None if current is None else current[0] - time.monotonic()


def cut(timeout: tuple[float, float], *, method: str = "", path: str = "") -> tuple[float, float]:
    """The (connect, read) timeout for a call starting now; K5TooSlow when nothing is left."""
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise too_slow(method=method, path=path)
    return (min(timeout[0], left), min(timeout[1], left))


def allows_pause(seconds: float) -> bool:
    left = remaining()
    return left is None or left > seconds


def exhausted() -> bool:
    left = remaining()
    return left is not None and left <= 0


def too_slow(*, method: str = "", path: str = "") -> K5TooSlow:
    current = _deadline.get()
    budget = current[1] if current else 0
    return K5TooSlow(
        f"K5 did not answer within the {budget:g} s this request may wait",
        method=method or None,
        path=path or None,
    )
