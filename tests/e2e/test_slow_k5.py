"""A slow K5 does not freeze the portal: gunicorn (as `bin/run` starts it) and a real qcluster,
with K5 taking 40 s to list volumes — longer than any request may wait.

The volumes API answers within the request budget in JSON (503 with Retry-After while no list
exists; the old list with its age afterwards), `/healthz` answers at once meanwhile, and
gunicorn never times a worker out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import pytest
import requests
from django.utils import timezone

from imaging.models import ApiToken, VolumeInventory
from tests.support.workers import ARTIFACTS, ROOT, database_url

pytestmark = pytest.mark.django_db(transaction=True)

LISTING = "/volumes/detail"
K5_LISTING_SECONDS = 40
BUDGET = 8


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web(queue_name):
    """gunicorn with the portal's own settings file, on the test database and broker."""
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "slow-k5.gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "Q_CLUSTER_NAME": queue_name,
        "WEB_BIND": f"127.0.0.1:{port}",
        "K5_REQUEST_BUDGET_SECONDS": str(BUDGET),
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "portal/gunicorn.py", "portal.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}/healthz", timeout=2).ok:
                    break
            except requests.RequestException:  # not listening yet, or still importing
                time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")
        yield url, log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_40_s_volume_listing_never_holds_a_request_past_its_budget(
    k5sim, project, bob, workers, web
):
    url, gunicorn_log = web
    # The worker waits K5 out (its read timeout is above 40 s); requests do not.
    workers.start(env={"K5_READ_TIMEOUT": str(K5_LISTING_SECONDS + 20), "Q_TIMEOUT": "120"})
    k5sim.add_fault(kind="http", method="GET", path=LISTING, latency=K5_LISTING_SECONDS, times=None)
    _token, key = ApiToken.issue(bob, "slow-k5 test")
    headers = {"Authorization": f"Token {key}"}
    volumes_url = f"{url}/api/v1/projects/{project.pk}/volumes/"

    health: list[float] = []

    def probe_health() -> None:
        time.sleep(2)  # while the volumes request below is waiting
        started = time.monotonic()
        requests.get(f"{url}/healthz", timeout=10).raise_for_status()
        health.append(time.monotonic() - started)

    prober = threading.Thread(target=probe_health)
    prober.start()
    started = time.monotonic()
    first = requests.get(volumes_url, headers=headers, timeout=60)
    waited = time.monotonic() - started
    prober.join()

    assert waited < 15, f"the volumes API took {waited:.1f} s"
    assert first.status_code == 503
    assert first.headers["Content-Type"].startswith("application/json")
    assert first.json()["error"]["code"] == "k5_unavailable"
    assert int(first.headers["Retry-After"]) > 0
    assert health and health[0] < 2, f"/healthz took {health} s while K5 was slow"

    # Once a list exists, it is answered at once with its age while a worker lists again.
    VolumeInventory.objects.filter(project=project).update(
        volumes=[],
        refreshed_at=timezone.now() - timedelta(minutes=30),
    )  # the listing asked for by the first request is still under way
    started = time.monotonic()
    again = requests.get(volumes_url, headers=headers, timeout=60)
    assert time.monotonic() - started < 5
    assert again.status_code == 200 and again.json() == []
    assert again.headers["X-Refreshing"] == "true"
    age = timezone.now() - datetime.fromisoformat(again.headers["X-Refreshed-At"])
    assert age > timedelta(minutes=29)

    assert "WORKER TIMEOUT" not in gunicorn_log.read_text()
    # One listing reached K5 for both requests (and it is still running).
    listings = [e for e in k5sim.requests_log() if e["path"].endswith(LISTING)]
    assert len(listings) <= 1
