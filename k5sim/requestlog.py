"""The log of API requests the simulator answered (control calls under /_sim/ excluded).

Tests and benchmarks read it to see what a client really sent: counts per endpoint template
(`GET /blockstorage/v2/{project_id}/volumes/detail`) tell how often it polled. The entry
list is capped (oldest dropped first) so a long benchmark cannot exhaust memory; the counts
are never capped.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

MAX_ENTRIES = 100_000


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._counts: Counter[str] = Counter()
        # Bumped by every clear (a reset): a request received before it belongs to the world
        # that was reset, and is not logged after it — a slow call an earlier test gave up on
        # must not show up in the next test's log when it is finally answered.
        self.generation = 0

    def current(self, generation: int) -> bool:
        return generation == self.generation

    def record(self, entry: dict[str, Any], generation: int | None = None) -> None:
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._entries.append(entry)
            self._counts[f"{entry['method']} {entry['template']}"] += 1

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()
            self.generation += 1
