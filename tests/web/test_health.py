"""/healthz says the process is alive; /readyz says whether the portal can do its work —
database, task broker, a recent engine tick, and K5 as the last tick found it — without ever
calling K5 itself."""

import socket
from datetime import timedelta

import pytest
from django.db import OperationalError, connections
from django.utils import timezone

from imaging.engine.tick import tick
from imaging.engine.upload import send_upload
from imaging.models import EngineHeartbeat, ImageJob, JobState, ProjectPoll

TOKEN = "monitoring-token-for-tests"
DATA_SMALL = "10000000-0000-4000-8000-000000000009"  # the simulator's 1 GB volume


@pytest.fixture(autouse=True)
def monitoring_token(settings):
    settings.METRICS_TOKEN = TOKEN


def as_monitor(client, path):
    return client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})


def fresh_beat():
    EngineHeartbeat.beat(duration=0.05, holder="worker-1:42", projects=1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_answers_healthz_without_touching_the_database(client):
    # No `db` fixture: pytest-django fails any database access in this test.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_is_ready_when_every_part_answers(client, db, project):
    fresh_beat()
    ProjectPoll.record(project.pk)

    response = as_monitor(client, "/readyz")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert {"database", "broker", "engine", "k5"} <= set(body["checks"])
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["engine"]["age_seconds"] < 5
    assert body["checks"]["k5"]["by_project"]["demo-project-1"]["ok"] is True


def test_it_names_the_broker_when_redis_does_not_answer(client, db, settings):
    fresh_beat()
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": f"redis://127.0.0.1:{closed_port()}/0"}

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    # Anonymous callers get the kind of error, not the message with hosts and ports.
    assert body["checks"]["broker"] == {"ok": False, "broker": "redis", "error": "ConnectionError"}
    assert body["checks"]["database"]["ok"] is True


def test_it_checks_the_broker_it_is_configured_with(client, db, settings):
    fresh_beat()

    response = client.get("/readyz")

    assert response.status_code == 200, response.json()
    kind = "redis" if settings.Q_CLUSTER.get("redis") else "orm"
    assert response.json()["checks"]["broker"] == {"ok": True, "broker": kind}


def test_it_names_the_engine_when_the_last_tick_is_stale(client, db, settings):
    fresh_beat()
    EngineHeartbeat.objects.update(ticked_at=timezone.now() - timedelta(seconds=301))

    response = as_monitor(client, "/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["engine"]
    engine = body["checks"]["engine"]
    assert engine["ok"] is False and engine["age_seconds"] >= 301
    assert engine["max_age_seconds"] == settings.READYZ_MAX_TICK_AGE_SECONDS == 300
    assert "is a qcluster running?" in engine["error"]


def test_it_names_the_engine_before_the_first_tick(client, db):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["engine"]


def test_it_names_the_database_and_skips_what_needs_it(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection to server failed")

    with monkeypatch.context() as patched:
        patched.setattr(connections["default"], "cursor", refuse)
        response = client.get("/readyz?exclude=broker")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database", "engine", "k5"]
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}


def test_a_k5_failure_at_the_last_poll_names_the_project_to_the_monitor_only(
    client, db, project, other_project
):
    fresh_beat()
    ProjectPoll.record(project.pk, "K5 answered HTTP 503 to GET /v2/…/volumes/detail")
    ProjectPoll.record(other_project.pk)

    anonymous = client.get("/readyz")
    monitor = as_monitor(client, "/readyz")

    assert anonymous.status_code == monitor.status_code == 503
    assert anonymous.json()["failing"] == ["k5"]
    assert anonymous.json()["checks"]["k5"] == {
        "ok": False,
        "projects": 2,
        "failed": 1,
        "error": "K5 failed at the last poll of 1 project(s)",
    }
    assert "demo-project-1" not in anonymous.content.decode()
    assert monitor.json()["failing"] == ["k5", "k5:demo-project-1"]
    projects = monitor.json()["checks"]["k5"]["by_project"]
    assert projects["demo-project-1"]["ok"] is False
    assert "HTTP 503" in projects["demo-project-1"]["error"]
    assert projects["demo-project-2"]["ok"] is True


def test_an_old_failed_poll_of_a_project_with_nothing_to_poll_is_history(client, db, project):
    fresh_beat()
    ProjectPoll.record(project.pk, "K5 unreachable")
    ProjectPoll.objects.update(polled_at=timezone.now() - timedelta(hours=2))

    response = as_monitor(client, "/readyz")

    assert response.status_code == 200
    state = response.json()["checks"]["k5"]["by_project"]["demo-project-1"]
    assert state["ok"] is True and state["idle"] is True and state["error"] == "K5 unreachable"


def test_a_rejected_credential_fails_until_an_admin_fixes_it(client, db, project):
    fresh_beat()
    project.credentials_invalid_at = timezone.now() - timedelta(days=1)
    project.credentials_error = "K5 rejected the credential of demo-user"
    project.save()

    response = as_monitor(client, "/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["k5", "k5:demo-project-1"]


def test_a_load_balancer_can_leave_k5_and_the_engine_out(client, db, project):
    ProjectPoll.record(project.pk, "K5 unreachable")  # and no tick at all

    response = client.get("/readyz?exclude=k5,engine")

    assert response.status_code == 200
    assert set(response.json()["checks"]) <= {"database", "broker", "cache"}
    assert client.get("/readyz?exclude=kafka").status_code == 400


def test_a_wrong_token_gets_the_anonymous_answer(client, db, project):
    fresh_beat()
    ProjectPoll.record(project.pk, "K5 unreachable")

    response = client.get("/readyz", headers={"Authorization": "Bearer not-the-token"})

    assert response.json()["failing"] == ["k5"]


def test_the_engine_tick_records_what_readyz_reads_and_readyz_calls_no_k5(
    client, k5sim, project, bob, signed_in
):
    signed_in(bob).post(
        f"/projects/{project.pk}/volumes/{DATA_SMALL}/create-image/",
        {"image_name": "data-img", "os_family": "linux", "preparation_confirmed": "on"},
    )
    job = ImageJob.objects.get()
    tick()  # takes the slot (the send task runs after the commit; here by hand)
    send_upload(job.pk)
    tick()
    assert ImageJob.objects.get().state == JobState.UPLOADING

    k5sim.clear_requests()
    healthy = as_monitor(client, "/readyz")
    assert healthy.status_code == 200, healthy.json()
    assert healthy.json()["checks"]["k5"]["by_project"]["demo-project-1"]["age_seconds"] < 5
    assert k5sim.requests_log() == []  # readyz read the tick's record; it called nothing

    k5sim.add_fault(kind="http", path="volumes/detail", status=403, times=None)
    tick()
    broken = as_monitor(client, "/readyz")

    assert broken.status_code == 503
    assert broken.json()["failing"] == ["k5", "k5:demo-project-1"]
    assert [call["template"] for call in k5sim.requests_log()] == [
        "/blockstorage/v2/{project_id}/volumes/detail"  # the tick's call, refused; none since
    ]
