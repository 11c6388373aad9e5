"""Simulated time: wall clock plus an offset, with K5 durations shrunk by a speed factor.

Everything the simulator stores is a "sim time" (seconds since the epoch, like time.time()).
Sim time runs at the same rate as the wall clock, so timestamps look real; what `speed`
changes is how long a K5 duration lasts: `span(10800)` is 3 h at speed 1 and 3 min at
speed 60. `advance(n)` jumps n K5 seconds, i.e. n / speed seconds of sim time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def span(self, k5_seconds: float) -> float:
        """Sim-time length of a K5 duration."""
        return k5_seconds / self.speed

    def advance(self, k5_seconds: float) -> None:
        self.offset += self.span(k5_seconds)


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def keystone_time(t: float) -> str:
    """Keystone token times: `2024-05-01T09:00:00.000000Z`."""
    return _utc(t).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def cinder_time(t: float | None) -> str | None:
    """Cinder times carry microseconds and no zone: `2024-05-01T09:00:00.000000`."""
    return None if t is None else _utc(t).strftime("%Y-%m-%dT%H:%M:%S.%f")


def zulu_time(t: float | None) -> str | None:
    """Glance and Nova times: `2024-05-01T09:00:00Z`."""
    return None if t is None else _utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """An ISO 8601 time (`Z` or offset; naive means UTC) as seconds since the epoch."""
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
