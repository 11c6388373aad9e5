"""The job engine in a background thread of the test process, for browser tests.

It does what a qcluster does for the portal, in-process: every `interval` seconds it runs the
real engine tick (`imaging.engine.tick.tick`: start due uploads, poll every project), and it
runs the real tasks the portal enqueues (`imaging.tasks.start_uploads`, `send_upload`,
`notify_job_finished`) from an in-process inbox instead of a broker — so the pages, the live
server and the engine share one test database and one settings object, with no queue to purge.
An exception in the thread fails the test that used it.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback

from django.db import close_old_connections, connection
from django.utils.module_loading import import_string


class EngineThread:
    def __init__(self, interval: float = 0.3):
        self.interval = interval
        self.inbox: queue.Queue[tuple[str, tuple]] = queue.Queue()
        self.errors: list[str] = []
        self.ran: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def async_task(self, func: str, *args, **_options) -> None:
        """Stands in for django_q's async_task: the task is run by this thread."""
        self.inbox.put((func, args))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            assert not self._thread.is_alive(), "the engine thread did not stop"

    def _run(self) -> None:
        from imaging.engine.tick import tick

        try:
            while not self._stop.is_set():
                close_old_connections()
                self._guarded("tick", tick)
                self._run_inbox()
                self._stop.wait(self.interval)
        finally:
            connection.close()  # before pytest-django empties the database

    def _run_inbox(self) -> None:
        while True:
            try:
                func, args = self.inbox.get_nowait()
            except queue.Empty:
                return
            self.ran.append(func)
            self._guarded(func, import_string(func), *args)

    def _guarded(self, what: str, call, *args) -> None:
        try:
            call(*args)
        except Exception:
            self.errors.append(f"{what}{args}:\n{traceback.format_exc()}")
            time.sleep(self.interval)  # a failing step must not spin
