"""When a job ends the requester gets an e-mail and the project's webhook a signed POST; each
attempt is an audit event."""

import hashlib
import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from imaging.engine.notifications import notify_job_finished
from imaging.models import EventKind, JobState
from tests.support.jobs import submit


class Receiver(BaseHTTPRequestHandler):
    received: list

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        self.send_response(self.server.answer)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.answer = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.mark.django_db
def test_a_failed_job_mails_the_requester_and_signs_the_webhook(
    k5sim, project, bob, receiver, mailoutbox
):
    project.webhook_url = f"http://127.0.0.1:{receiver.server_port}/hook"
    project.set_webhook_secret("s3cret")
    project.save()
    job = submit(project, bob)
    job.transition(
        JobState.FAILED,
        message="x",
        error_message="The volume went into an error state during the upload.",
    )

    assert notify_job_finished(job.pk) == ["email sent", "webhook delivered"]

    mail = mailoutbox[0]
    assert mail.to == ["bob@example.com"]
    assert mail.subject == "Image web-golden could not be created"
    assert "Why: The volume went into an error state during the upload." in mail.body
    headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-K5-Portal-Signature"] == expected
    payload = json.loads(body)
    assert (payload["id"], payload["state"], payload["project"]) == (
        job.pk,
        "failed",
        "demo-project-1",
    )
    assert {z["availability_zone"] for z in payload["zones"]} == {"jp-east-1a", "jp-east-1b"}
    notes = job.events.filter(kind=EventKind.NOTIFICATION).values_list("message", flat=True)
    assert list(notes) == [
        "E-mailed bob@example.com.",
        f"Webhook http://127.0.0.1:{receiver.server_port} delivered (HTTP 204).",
    ]


@pytest.mark.django_db
def test_a_failing_webhook_is_recorded_not_raised(k5sim, project, bob, receiver):
    receiver.answer = 500
    project.webhook_url = f"http://127.0.0.1:{receiver.server_port}/hook"
    project.set_webhook_secret("")  # no secret: the POST goes unsigned
    project.save()
    bob.email = ""
    bob.save()
    job = submit(project, bob)
    job.transition(JobState.CANCELLED, message="x")
    assert notify_job_finished(job.pk) == ["webhook failed"]
    event = job.events.get(kind=EventKind.NOTIFICATION)
    assert event.detail == {"channel": "webhook", "delivered": False, "answer": "HTTP 500"}
    assert "X-K5-Portal-Signature" not in receiver.received[0][0]


@pytest.mark.django_db
def test_ending_a_job_enqueues_its_notification_after_commit(
    k5sim, project, bob, django_capture_on_commit_callbacks
):
    job = submit(project, bob)
    with django_capture_on_commit_callbacks() as callbacks:
        job.transition(JobState.CANCELLED, message="x")
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        submit(project, bob, image_name="other")
    assert len(callbacks) == 1, "only the kick of the pacing step, no notification"


@pytest.mark.django_db
def test_a_viewer_never_reads_the_webhooks_secret_path_in_the_audit(
    k5sim, project, bob, victor, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    receiver.answer = 500
    project.webhook_url = (
        f"http://hook:T0KEN@127.0.0.1:{receiver.server_port}/services/T01/B02/bearer-xyz?sig=s1"
    )
    project.save()
    job = submit(project, bob)
    job.transition(JobState.FAILED, message="x", error_message="broken")
    assert notify_job_finished(job.pk)[-1] == "webhook failed"

    client = Client()
    client.force_login(victor)
    seen = {
        "audit page": client.get("/audit/").content.decode(),
        "job page": client.get(f"/jobs/{job.pk}/").content.decode(),
        "CSV export": client.get("/audit/", {"export": "csv"}).getvalue().decode(),
        "JSON export": client.get("/audit/", {"export": "json"}).getvalue().decode(),
        "API": client.get("/api/v1/events/").content.decode(),
    }
    seen["log"] = caplog.text
    for where, text in seen.items():
        assert f"Webhook http://127.0.0.1:{receiver.server_port} failed (HTTP 500)" in text, where
        for secret in ("T0KEN", "bearer-xyz", "sig=s1", "/services/"):
            assert secret not in text, f"{secret} in the {where}"
