"""What each tick leaves behind for readiness checks and metrics: when it ran, how long it took,
and per project whether K5 answered the poll — so that a probe reads rows and never calls K5."""

from __future__ import annotations

import os
import socket

from imaging.models import EngineHeartbeat, K5Project, ProjectPoll
from portal.metrics import TICK_SECONDS

_PROCESS = f"{socket.gethostname()}:{os.getpid()}"


def project_polled(project: K5Project, jobs: int, error: str) -> None:
    """Record the poll's outcome; a poll with no job to follow made no K5 call, so says nothing."""
    if jobs:
        ProjectPoll.record(project.pk, error)


def tick_finished(seconds: float, projects: int) -> None:
    TICK_SECONDS.observe(seconds)
    EngineHeartbeat.beat(duration=seconds, holder=_PROCESS, projects=projects)
