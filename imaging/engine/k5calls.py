"""Recording the K5 calls that matter (uploads, deletions, failures) as audit events.

The facade reports every HTTP call to one observer per client; the engine's clients are shared
per process, so the observer forwards to whatever job is being worked on in this thread.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

from imaging.k5 import CallRecord
from imaging.messages import said
from imaging.models import EventKind, ImageJob

_calls: contextvars.ContextVar[list[CallRecord] | None] = contextvars.ContextVar(
    "k5_calls", default=None
)


def observe(record: CallRecord) -> None:
    calls = _calls.get()
    if calls is not None:
        calls.append(record)


@contextmanager
def recording_calls(job: ImageJob) -> Iterator[list[dict]]:
    """Record every K5 call made inside the block on `job`'s history; yields them as dicts."""
    calls: list[CallRecord] = []
    summary: list[dict] = []
    token = _calls.set(calls)
    try:
        yield summary
    finally:
        _calls.reset(token)
        for call in calls:
            detail = asdict(call)
            detail["duration"] = round(call.duration, 3)
            summary.append(detail)
            outcome = f"HTTP {call.status}" if call.status else (call.error or "no answer")
            job.record(
                EventKind.K5_CALL,
                said("k5.call", method=call.method, path=call.path, outcome=outcome),
                detail=detail,
            )
