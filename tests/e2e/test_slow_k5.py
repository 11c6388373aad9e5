"""A slow K5 does not freeze the portal: gunicorn (as `bin/run` starts it) and a real qcluster,
with K5 taking 40 s to list volumes — longer than any request may wait.

The volumes API answers within the request budget in JSON (503 with Retry-After while no list
exists; the old list with its age afterwards), `/healthz` answers at once meanwhile, and
gunicorn never times a worker out.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
import requests
from django.utils import timezone

from imaging.models import ApiToken, VolumeInventory

pytestmark = pytest.mark.django_db(transaction=True)

LISTING = "/volumes/detail"
K5_LISTING_SECONDS = 40
BUDGET = 8


def test_a_40_s_volume_listing_never_holds_a_request_past_its_budget(
    k5sim, project, bob, workers, web_server
):
    url, gunicorn_log = web_server("slow-k5", K5_REQUEST_BUDGET_SECONDS=str(BUDGET))
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
