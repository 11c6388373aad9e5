"""/metrics: Prometheus text behind the monitoring token, with what an operator graphs — jobs
by state, queue depth and upload budget per project, K5 calls by service, method and status
with their latency, tick duration, detection lag, K5 sign-in failures — after a small run of
the real engine against the simulator; and the numbers of many processes added up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from imaging import dispatch, tasks
from imaging.engine.connections import CredentialsInvalid, client_for
from imaging.engine.tick import tick
from imaging.models import ApiToken, PendingTask
from portal.metrics import scrape_registry

TOKEN = "metrics-token-for-the-tests"
DATA_SMALL = "10000000-0000-4000-8000-000000000009"  # 1 GB: uploads in 72 simulated seconds
CENTOS_WEB = "10000000-0000-4000-8000-000000000001"


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, (label, value), ...): value} of an exposition."""
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


def test_it_is_not_there_without_a_configured_token(client, db, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


def test_it_asks_for_the_token(client, db, settings):
    settings.METRICS_TOKEN = TOKEN

    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-metrics-token"})
    basic = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})

    assert missing.status_code == wrong.status_code == basic.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"k5portal" not in missing.content + wrong.content + basic.content


def test_a_small_engine_run_shows_in_the_metrics(
    client, k5sim, project, other_project, bob, settings
):
    settings.METRICS_TOKEN = TOKEN
    settings.ENGINE_SYNC_SETTLE_BASE_SECONDS = settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB = 0
    project.upload_limit = 1  # the second job waits in the queue
    project.save()
    other_project.set_password("not-the-password")
    other_project.save()
    _token, key = ApiToken.issue(bob, "ci")
    tool = Client(headers={"Authorization": f"Token {key}"})
    before = scrape(client)

    job_ids = []
    for volume_id, name in ((DATA_SMALL, "data-img"), (CENTOS_WEB, "web-img")):
        body = {
            "project": project.pk,
            "volume_id": volume_id,
            "image_name": name,
            "os_family": "linux",
            "preparation_confirmed": True,
        }
        created = tool.post("/api/v1/jobs/", json.dumps(body), content_type="application/json")
        assert created.status_code == 201, created.content
        job_ids.append(created.json()["id"])
    tick()  # the first job takes the only slot
    tasks.send_upload(job_ids[0])
    k5sim.advance(60 + 12 + 10)
    tick()  # image active: verifying
    tick()  # succeeded
    with pytest.raises(CredentialsInvalid):
        client_for(other_project)  # K5 refuses the other project's password
    after = scrape(client)

    def grew(name: str, **labels) -> float:
        key = (name, *sorted(labels.items()))
        return after.get(key, 0) - before.get(key, 0)

    def now(name: str, **labels) -> float:
        return after[(name, *sorted(labels.items()))]

    # K5 calls, by service, method and answer, with their latency
    assert grew("k5portal_k5_calls_total", service="blockstorage", method="POST", status="202") == 1
    assert grew("k5portal_k5_calls_total", service="identity", method="POST", status="201") == 1
    assert grew("k5portal_k5_calls_total", service="identity", method="POST", status="401") == 1
    assert grew("k5portal_k5_calls_total", service="blockstorage", method="GET", status="200") >= 3
    assert grew("k5portal_k5_calls_total", service="image", method="GET", status="200") >= 2
    upload_latency = {"service": "blockstorage", "method": "POST"}
    assert grew("k5portal_k5_call_duration_seconds_count", **upload_latency) == 1
    assert 0 < grew("k5portal_k5_call_duration_seconds_sum", **upload_latency) < 5
    assert grew("k5portal_k5_call_duration_seconds_bucket", le="+Inf", **upload_latency) == 1
    # K5 sign-in failures per project
    assert grew("k5portal_k5_sign_in_failures_total", project="demo-project-2") == 1
    assert grew("k5portal_k5_sign_in_failures_total", project="demo-project-1") == 0
    assert now("k5portal_k5_credentials_invalid", project="demo-project-2") == 1
    assert now("k5portal_k5_credentials_invalid", project="demo-project-1") == 0
    # the engine: three ticks, one image seen active
    assert grew("k5portal_engine_tick_duration_seconds_count") == 3
    assert grew("k5portal_engine_detection_lag_seconds_count") == 1
    assert abs(now("k5portal_engine_last_tick_timestamp_seconds") - time.time()) < 30
    assert now("k5portal_k5_last_poll_ok", project="demo-project-1") == 1
    # jobs by project and state; the queue and the budget
    assert now("k5portal_jobs", project="demo-project-1", state="succeeded") == 1
    assert now("k5portal_jobs", project="demo-project-1", state="queued") == 1
    assert now("k5portal_jobs", project="demo-project-1", state="failed") == 0
    assert now("k5portal_jobs", project="demo-project-2", state="queued") == 0
    assert now("k5portal_queue_depth", project="demo-project-1") == 1
    assert now("k5portal_upload_budget_limit", project="demo-project-1") == 1
    assert now("k5portal_upload_budget_used", project="demo-project-1") == 1
    assert now("k5portal_upload_budget_used", project="demo-project-2") == 0
    assert now("k5portal_database_up") == 1


WRITER = """
import django
django.setup()
from imaging.k5 import CallRecord
from portal.metrics import TICK_SECONDS, count_k5_call
count_k5_call("demo-project-1", CallRecord("GET", "/v2/images", 200, "req-1", 0.2, service="image"))
TICK_SECONDS.observe(0.5)
"""


def test_processes_sharing_a_multiprocess_directory_are_added_up(db, tmp_path, monkeypatch):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    for _worker in range(2):  # a web worker and a qcluster worker, say
        done = subprocess.run(
            [sys.executable, "-c", WRITER], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    found = samples(generate_latest(scrape_registry()).decode())

    calls = ("k5portal_k5_calls_total", ("method", "GET"), ("service", "image"), ("status", "200"))
    assert found[calls] == 2
    assert found[("k5portal_engine_tick_duration_seconds_count",)] == 2
    assert found[("k5portal_database_up",)] == 1  # the database gauges come along
    # each process has its own files, named with host and pid (containers share pids)
    assert len({path.name for path in tmp_path.iterdir()}) == 4
    assert all("-" in path.stem for path in tmp_path.iterdir())


def test_it_counts_the_tasks_the_broker_has_not_taken_for_a_minute(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    PendingTask.objects.create(
        name=dispatch.NOTIFY_JOB_FINISHED,
        args=[1],
        created_at=timezone.now() - timedelta(minutes=5),  # Redis was down at its commit
    )
    PendingTask.objects.create(name=dispatch.START_UPLOADS, args=[1])  # on its way to Redis

    assert scrape(client)[("k5portal_tasks_waiting_for_broker",)] == 1
