"""A task the end-to-end tests enqueue by dotted name into real qclusters: one K5 call made
through the engine's client of the worker process that runs it — as a page listing a
project's volumes makes one from a web process. It answers "<label> <process id> <outcome>"."""

from __future__ import annotations

import os
import time


def list_volumes(project_id: int, label: str, pause: float = 0.0) -> str:
    from imaging.engine.connections import CredentialsInvalid, client_for
    from imaging.k5 import K5Error, blockstorage
    from imaging.models import K5Project

    project = K5Project.objects.get(pk=project_id)
    try:
        outcome = f"{len(blockstorage.volume_list(client_for(project)))} volumes"
    except (CredentialsInvalid, K5Error) as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    time.sleep(pause)  # hold this worker, so that the next task goes to another process
    return f"{label} {os.getpid()} {outcome}"
