"""Redis stopped mid-run (the test's own redis-server holding the cache and the task broker):
no request answers 500. A token that could be a guess is refused with 503 `unavailable` and
Retry-After, naming nothing internal (its failure could not be counted); an authenticated
request goes on without the lockout and the throttle; a submission or a cancel that commits
keeps its task — the upload's start, the notice that the job ended — in the database until the
engine's tick hands it to the broker once Redis is back."""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.signing import SignedPackage

from imaging import dispatch
from imaging.engine.tick import tick
from imaging.models import ImageJob, JobState, PendingTask
from tests.api.client import Api, error_of, job_body
from tests.support.jobs import make_job

pytestmark = pytest.mark.django_db(transaction=True)  # commits for real: on_commit runs


def run_queued() -> list[str]:
    """Do what a worker would with every task in the broker; returns their dotted names."""
    broker = dispatch._broker()
    done = []
    while broker.queue_size():
        for _ack, package in broker.dequeue() or []:
            task = SignedPackage.loads(package)
            module, _, name = task["func"].rpartition(".")
            getattr(importlib.import_module(module), name)(*task["args"])
            done.append(task["func"])
    return done


def a_minute_later() -> None:
    """Past dispatch.PENDING_GRACE: the tick no longer waits for the committing process."""
    PendingTask.objects.update(created_at=timezone.now() - timedelta(minutes=2))


def pending() -> list[tuple[str, list]]:
    return [(row.name, row.args) for row in PendingTask.objects.order_by("pk")]


def test_a_token_that_could_be_a_guess_is_refused_with_503_while_the_cache_is_down(
    project, bob, redis_everywhere, caplog
):
    redis_everywhere.stop()

    response = Api("not-a-real-token").get("/api/v1/jobs/")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    error = error_of(response)
    assert error["code"] == "unavailable"
    assert "cannot be checked right now" in error["message"]
    text = response.content.decode().lower()
    assert "redis" not in text and str(redis_everywhere.port) not in text
    assert "127.0.0.1" not in text and "connection" not in text
    assert any("refused uncounted" in r.getMessage() for r in caplog.records)


def test_a_valid_token_reads_while_the_cache_is_down(api, project, bob, redis_everywhere):
    tool = api(bob)
    make_job(project, bob)
    redis_everywhere.stop()

    response = tool.get("/api/v1/jobs/")

    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1


def test_a_submission_while_redis_is_down_is_queued_and_started_by_a_tick_once_it_is_back(
    api, project, bob, redis_everywhere, caplog
):
    tool = api(bob)
    redis_everywhere.stop()

    with caplog.at_level(logging.WARNING, logger="imaging.dispatch"):
        response = tool.post("/api/v1/jobs/", job_body(project))

    assert response.status_code == 201, response.content
    job = ImageJob.objects.get(pk=response.json()["id"])
    assert job.state == JobState.QUEUED
    assert pending() == [(dispatch.START_UPLOADS, [project.pk])]
    assert any("the engine tick will queue it" in r.getMessage() for r in caplog.records)

    redis_everywhere.start()
    a_minute_later()
    tick()

    assert PendingTask.objects.count() == 0
    assert sorted(run_queued()) == [dispatch.SEND_UPLOAD, dispatch.START_UPLOADS]
    job.refresh_from_db()
    assert job.state == JobState.UPLOADING


def test_a_cancel_while_redis_is_down_records_the_notice_and_a_tick_sends_it_once_back(
    api, project, bob, redis_everywhere, mailoutbox
):
    job = make_job(project, bob)
    tool = api(bob)
    redis_everywhere.stop()

    response = tool.post(f"/api/v1/jobs/{job.pk}/cancel/")

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "cancelled"
    assert pending() == [(dispatch.NOTIFY_JOB_FINISHED, [job.pk])]

    tick()  # Redis still down: the notice stays recorded
    a_minute_later()
    tick()
    assert pending() == [(dispatch.NOTIFY_JOB_FINISHED, [job.pk])]
    assert mailoutbox == []

    redis_everywhere.start()
    tick()

    assert pending() == []
    assert run_queued() == [dispatch.NOTIFY_JOB_FINISHED]
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["bob@example.com"], "Image job web-golden was cancelled")
    ]
