"""Everything the portal logs at DEBUG during a whole job — a member signing in (once with a
wrong password), an API client submitting and following the job, the engine signing in to K5,
uploading and following the image to the end, the notification — holds no secret: not the K5
password, not the K5 token, no API token, no session id, not the credential keys or their
ciphertext, not the portal passwords. And the engine's lines say which job and which K5 request
they are about."""

from __future__ import annotations

import json

from django.test import Client

from imaging import tasks
from imaging.engine import connections
from imaging.engine.tick import tick
from imaging.models import ApiToken, ImageJob, JobState

K5_PASSWORD = "demo-password"  # the simulator's demo user
DATA_SMALL = "10000000-0000-4000-8000-000000000009"  # 1 GB: uploads in 72 simulated seconds
BOB_PASSWORD = "bob-password-1"  # the cast's portal password for bob
WRONG_PASSWORD = "not-bobs-password-9"


def test_a_whole_job_logged_at_debug_holds_no_secret(k5sim, project, bob, settings, debug_log):
    # succeed at the first poll after the image is active
    settings.ENGINE_SYNC_SETTLE_BASE_SECONDS = settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB = 0
    browser = Client()
    refused = browser.post("/accounts/login/", {"username": "bob", "password": WRONG_PASSWORD})
    assert refused.status_code == 200  # the form again, with an error
    browser.post("/accounts/login/", {"username": "bob", "password": BOB_PASSWORD})
    session_id = browser.cookies["sessionid"].value
    _token, api_key = ApiToken.issue(bob, "ci")
    api = {"Authorization": f"Token {api_key}"}
    tool = Client()

    created = tool.post(
        "/api/v1/jobs/",
        json.dumps(
            {
                "project": project.pk,
                "volume_id": DATA_SMALL,
                "image_name": "data-img",
                "os_family": "linux",
                "preparation_confirmed": True,
            }
        ),
        content_type="application/json",
        headers=api,
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    tick()  # a slot is taken; the send task would run after the commit — here, by hand
    tasks.send_upload(job_id)
    k5sim.advance(60 + 12 + 10)
    tick()  # image active: verifying
    tick()  # nothing reported against the zones: succeeded
    tasks.notify_job_finished(job_id)
    assert ImageJob.objects.get().state == JobState.SUCCEEDED
    assert tool.get(f"/api/v1/jobs/{job_id}/", headers=api).json()["state"] == "succeeded"
    assert browser.get(f"/jobs/{job_id}/").status_code == 200
    k5_token = connections.client_for(project).auth.auth_ref.auth_token
    project.refresh_from_db()

    text = debug_log.getvalue()
    secrets = {
        "the K5 password": K5_PASSWORD,
        "the K5 token": k5_token,
        "the API token": api_key,
        "the session id": session_id,
        "the K5 password's ciphertext": project.password_encrypted,
        "the webhook secret's ciphertext": project.webhook_secret_encrypted,
        "bob's portal password": BOB_PASSWORD,
        "the wrong password bob typed": WRONG_PASSWORD,
        "SECRET_KEY": settings.SECRET_KEY,
        **{f"credential key {n}": key for n, key in enumerate(settings.K5_CREDENTIAL_KEYS)},
    }
    assert all(secrets.values())
    leaked = [name for name, secret in secrets.items() if secret in text]
    assert leaked == [], f"in the log: {leaked}"

    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) > 50  # DEBUG really was on: the K5 facade, urllib3, the requests...
    job_lines = [line for line in lines if line.get("job_id") == job_id]
    transitions = [line for line in job_lines if line.get("event") == "transition"]
    moves = [line["message"].split(":")[0] for line in transitions]
    assert moves == [
        "queued -> submitting",
        "submitting -> uploading",
        "uploading -> verifying",
        "verifying -> succeeded",
    ]
    accepted = next(line for line in job_lines if line["message"].startswith("submitting ->"))
    assert accepted["k5_request_id"].startswith("req-")  # the upload call's, from K5
    assert accepted["k5_request_id"] in ImageJob.objects.get().k5_request_ids
    submitted = next(line for line in job_lines if line["message"].startswith("Requested"))
    assert submitted["request_id"] == created["X-Request-ID"]
    # The SQL logger stays at WARNING even at LOG_LEVEL=DEBUG: its parameters hold session keys.
    assert settings.LOGGING["loggers"]["django.db.backends"]["level"] == "WARNING"
