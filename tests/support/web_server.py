"""The portal served by gunicorn, as `bin/run` and production start it (`portal/gunicorn.py`),
for end-to-end tests: on the test database and the run's queue, beside real qclusters.

`web_server(label, **env)` starts one and answers (its URL, its log file); it is stopped at
the end of the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.workers import ARTIFACTS, ROOT, database_url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn as production starts it, in a session of its own (its workers are its process
    group), on a free loopback port; (the process, its URL) once `/healthz` answers."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.py", "portal.wsgi"],
            cwd=ROOT,
            env={**os.environ, **env, "WEB_BIND": f"127.0.0.1:{port}"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/healthz", timeout=2).ok:
                return process, url
        except requests.RequestException:  # not listening yet, or still importing
            time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # its workers too
    raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")


@pytest.fixture
def web_server(queue_name):
    processes: list[subprocess.Popen] = []

    def start(label: str, **env: str) -> tuple[str, Path]:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log_path = ARTIFACTS / f"{label}.gunicorn.log"
        process, url = start_gunicorn(
            {"DATABASE_URL": database_url(), "Q_CLUSTER_NAME": queue_name, **env}, log_path
        )
        processes.append(process)
        return url, log_path

    try:
        yield start
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
