"""What every K5 call a project's client makes is reported to: the job's audit trail
(k5calls), the log context (the K5 request id on the lines that follow) and the metrics."""

from __future__ import annotations

from collections.abc import Callable

from imaging.engine.k5calls import observe
from imaging.k5 import CallRecord
from portal.logs import note_k5_request
from portal.metrics import count_k5_call


def k5_observer(project_name: str) -> Callable[[CallRecord], None]:
    def observer(record: CallRecord) -> None:
        note_k5_request(record.request_id)
        count_k5_call(project_name, record)
        observe(record)

    return observer
