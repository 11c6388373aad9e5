"""A stand-in for the worker that lists volumes in K5, for tests without a qcluster.

Pages and the API never list volumes in K5 themselves: they ask a worker (the
`imaging.tasks.refresh_inventory` task, enqueued after the commit). A test's transaction never
commits, so this runs that task at once, where it is asked for — the real task, with the
simulator behind it. Tests of the slow path (`tests/e2e/test_slow_k5.py`) use real workers.
"""

from __future__ import annotations

import pytest

from imaging import dispatch, tasks


@pytest.fixture(autouse=True)
def inventory_worker(monkeypatch):
    enqueue = dispatch.enqueue

    def run_inventory_at_once(task: str, *args) -> None:
        if task == dispatch.REFRESH_INVENTORY:
            tasks.refresh_inventory(*args)
        else:
            enqueue(task, *args)

    monkeypatch.setattr(dispatch, "enqueue", run_inventory_at_once)
