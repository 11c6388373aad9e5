"""A tool that times out and retries, many times at once, still gets exactly one job (or one
batch): 50 requests with one Idempotency-Key sent in parallel over real HTTP to a live server
(its own threads and database connections), on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread

from imaging.models import ApiToken, Batch, ImageJob, JobEvent
from tests.api.client import job_body
from tests.support.cast import make_user
from tests.support.demo import CENTOS_WEB, UBUNTU_APP

PARALLEL = 50


class RoomyServer(ThreadedWSGIServer):
    # Django's test server listens with a backlog of 10: the 11th simultaneous connection
    # would be reset before the application sees it, which is not what this test is about.
    request_queue_size = PARALLEL + 14


class RoomyServerThread(LiveServerThread):
    server_class = RoomyServer


@pytest.fixture
def live_url(transactional_db):
    """The portal served on a free loopback port by threads with their own DB connections."""
    thread = RoomyServerThread("127.0.0.1", static_handler=lambda app: app)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.fixture
def tool(transactional_db, project):
    bob = make_user("bob", project, "member")
    _token, key = ApiToken.issue(bob, "pipeline")
    return key


def send_all_at_once(url: str, key: str, body: dict, idempotency_key: str):
    start = threading.Barrier(PARALLEL)

    def send(_n):
        with requests.Session() as session:
            start.wait()
            response = session.post(
                url,
                json=body,
                timeout=60,
                headers={"Authorization": f"Token {key}", "Idempotency-Key": idempotency_key},
            )
            return response.status_code, response.json()

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(send, range(PARALLEL)))


def test_fifty_parallel_requests_with_one_key_make_one_job(live_url, project, tool):
    answers = send_all_at_once(
        f"{live_url}/api/v1/jobs/", tool, job_body(project), "nightly-golden-2026-11-27"
    )

    statuses = sorted(status for status, _ in answers)
    assert ImageJob.objects.count() == 1
    job = ImageJob.objects.get()
    print(Counter((s, (b.get("error") or {}).get("code")) for s, b in answers))  # on failure
    assert statuses == [200] * (PARALLEL - 1) + [201], [b for s, b in answers if s >= 300][:3]
    assert {body["id"] for _, body in answers} == {job.pk}
    assert JobEvent.objects.filter(message__startswith="Requested").count() == 1


def test_fifty_parallel_batches_with_one_key_make_one_batch(live_url, project, tool):
    body = {
        "project": project.pk,
        "volume_ids": [CENTOS_WEB, UBUNTU_APP],
        "image_name_template": "{volume}-{date}",
        "preparation_confirmed": True,
    }
    answers = send_all_at_once(f"{live_url}/api/v1/batches/", tool, body, "weekly-2026-12-07")

    statuses = sorted(status for status, _ in answers)
    print(Counter((s, (b.get("error") or {}).get("code")) for s, b in answers))  # on failure
    assert statuses == [200] * (PARALLEL - 1) + [201], [b for s, b in answers if s >= 300][:3]
    batch = Batch.objects.get()
    assert {body["id"] for _, body in answers} == {batch.pk}
    assert sorted(ImageJob.objects.values_list("volume_id", flat=True)) == sorted(
        [CENTOS_WEB, UBUNTU_APP]
    )


def test_a_replay_that_looked_for_its_key_too_early_still_gets_the_job(
    db, api, project, monkeypatch
):
    """The race above, made certain: the replay's key lookup runs before the original's job
    exists (patched to miss once), so the rules then see that job holding the volume."""
    bob = make_user("bob", project, "member")
    tool = api(bob)
    headers = {"Idempotency-Key": "run-7"}
    first = tool.post("/api/v1/jobs/", job_body(project), headers=headers).json()

    from imaging.engine import submission

    real_lookup = submission._earlier
    lookups = []

    def lookup_too_early_once(user, key):
        lookups.append(key)
        return None if len(lookups) == 1 else real_lookup(user, key)

    monkeypatch.setattr(submission, "_earlier", lookup_too_early_once)

    again = tool.post("/api/v1/jobs/", job_body(project), headers=headers)
    assert lookups[0] == "run-7"
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first["id"]
    assert ImageJob.objects.count() == 1
