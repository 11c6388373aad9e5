"""Telling people a job ended: e-mail to the requester and the project's signed webhook.

Each attempt is an audit event, delivered or not. The webhook body is JSON, signed with
HMAC-SHA256 over the raw body using the project's webhook secret:
`X-K5-Portal-Signature: sha256=<hex>`, `X-K5-Portal-Event: job.finished`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from imaging.models import EventKind, ImageJob, JobState

logger = logging.getLogger(__name__)

SUBJECTS: dict[str, str] = {
    JobState.SUCCEEDED: "Image {name} is ready in every availability zone",
    JobState.FAILED: "Image {name} could not be created",
    JobState.SYNC_FAILED: "Image {name} is not usable: availability-zone sync failed",
    JobState.CANCELLED: "Image job {name} was cancelled",
}


def notify_job_finished(job_id: int) -> list[str]:
    job = ImageJob.objects.select_related("project", "requested_by").get(pk=job_id)
    if not job.terminal:
        return []
    outcomes = []
    if job.requested_by and job.requested_by.email:
        outcomes.append(_email(job, job.requested_by.email))
    if job.project.webhook_url:
        outcomes.append(_webhook(job))
    return outcomes


def job_payload(job: ImageJob) -> dict:
    return {
        "event": "job.finished",
        "id": job.pk,
        "project": job.project.name,
        "state": job.state,
        "image_name": job.image_name,
        "image_id": job.image_id or None,
        "volume_id": job.volume_id,
        "requested_by": job.requested_by_name,
        "error": job.error_message or None,
        "finished_at": job.finished_at,
        "url": settings.PORTAL_BASE_URL.rstrip("/") + job_path(job),
        "zones": [
            {
                "availability_zone": z.availability_zone,
                "role": z.role,
                "status": z.status,
                "reason": z.reason or None,
            }
            for z in job.zones.all()
        ],
    }


def webhook_origin(url: str) -> str:
    """How audit events and logs name a webhook: scheme and host (and port) only. Its path,
    query and user part often carry the receiver's bearer secret (Slack, Teams), and every
    viewer of the project reads the audit."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def job_path(job: ImageJob) -> str:
    return reverse("job", args=[job.pk])


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _email(job: ImageJob, recipient: str) -> str:
    subject = SUBJECTS[job.state].format(name=job.image_name)
    lines = [
        f"Project: {job.project.name}",
        f"Volume: {job.volume.get('name') or job.volume_id}",
        f"Image: {job.image_name} ({job.image_id or 'not created'})",
        f"State: {job.get_state_display()}",
    ]
    if job.error_message:
        lines.append(f"Why: {job.error_message}")
    if job.state == JobState.SYNC_FAILED:
        lines.append("Remedy: delete the image and create it again (the Retry action does both).")
    if job.state == JobState.SUCCEEDED and job.is_windows:
        lines.append("After imaging Windows: restore the server's snapshot, then restart it.")
    lines.append(settings.PORTAL_BASE_URL.rstrip("/") + job_path(job))
    try:
        send_mail(subject, "\n".join(lines), None, [recipient])
    except Exception as exc:
        job.record(
            EventKind.NOTIFICATION,
            f"E-mail to {recipient} failed: {exc}",
            detail={"channel": "email", "delivered": False},
        )
        return "email failed"
    job.record(
        EventKind.NOTIFICATION,
        f"E-mailed {recipient}.",
        detail={"channel": "email", "delivered": True},
    )
    return "email sent"


def _webhook(job: ImageJob) -> str:
    project = job.project
    body = json.dumps(job_payload(job), cls=DjangoJSONEncoder).encode()
    headers = {"Content-Type": "application/json", "X-K5-Portal-Event": "job.finished"}
    secret = project.get_webhook_secret()
    if secret:
        headers["X-K5-Portal-Signature"] = sign(secret, body)
    try:
        response = requests.post(
            project.webhook_url,
            data=body,
            headers=headers,
            timeout=settings.ENGINE_NOTIFY_TIMEOUT,
            allow_redirects=False,
        )
        delivered = 200 <= response.status_code < 300
        what = f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        delivered, what = False, f"{type(exc).__name__}"
    job.record(
        EventKind.NOTIFICATION,
        f"Webhook {webhook_origin(project.webhook_url)} "
        f"{'delivered' if delivered else 'failed'} ({what}).",
        detail={"channel": "webhook", "delivered": delivered, "answer": what},
    )
    return "webhook delivered" if delivered else "webhook failed"
