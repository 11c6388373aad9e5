"""The portal served by gunicorn, as `bin/run` and production start it (`portal/gunicorn.py`),
for end-to-end tests: on the test database and the run's queue, beside real qclusters.

`web_server(label, **env)` starts one and answers (its URL, its log file); it is stopped at
the end of the test.
"""

from __future__ import annotations

import os
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


@pytest.fixture
def web_server(queue_name):
    processes: list[subprocess.Popen] = []

    def start(label: str, **env: str) -> tuple[str, Path]:
        port = free_port()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log_path = ARTIFACTS / f"{label}.gunicorn.log"
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "Q_CLUSTER_NAME": queue_name,
            "WEB_BIND": f"127.0.0.1:{port}",
            **env,
        }
        with log_path.open("w") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.py", "portal.wsgi"],
                    cwd=ROOT,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if requests.get(f"{url}/healthz", timeout=2).ok:
                    return url, log_path
            except requests.RequestException:  # not listening yet, or still importing
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")

    try:
        yield start
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
