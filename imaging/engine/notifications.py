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
from django.utils import formats, timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from imaging.messages import K5_SAYS, render, said
from imaging.models import EventKind, ImageJob, JobState, Preference

logger = logging.getLogger(__name__)

SUBJECTS: dict[str, Promise] = {
    JobState.SUCCEEDED: gettext_lazy("Image %(name)s is ready in every availability zone"),
    JobState.FAILED: gettext_lazy("Image %(name)s could not be created"),
    JobState.SYNC_FAILED: gettext_lazy(
        "Image %(name)s is not usable: availability-zone sync failed"
    ),
    JobState.CANCELLED: gettext_lazy("Image job %(name)s was cancelled"),
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
        # The explanation in the project's language, its code and parameters for tools.
        "language": job.project.language,
        "error": render(job.error_code, job.error_params, job.project.language)
        if job.error_code
        else job.error_message or None,
        "error_code": job.error_code or None,
        "error_params": job.error_params if job.error_code else None,
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
    # In the recipient's saved language and time zone.
    language = Preference.language_of(job.requested_by)
    with translation.override(language), timezone.override(Preference.zone_of(job.requested_by)):
        subject, body = _email_text(job)
    try:
        send_mail(subject, body, None, [recipient])
    except Exception as exc:
        job.record(
            EventKind.NOTIFICATION,
            said("notify.email_failed", recipient=recipient, error=str(exc)),
            detail={"channel": "email", "delivered": False},
        )
        return "email failed"
    job.record(
        EventKind.NOTIFICATION,
        said("notify.email_sent", recipient=recipient),
        detail={"channel": "email", "delivered": True},
    )
    return "email sent"


def _email_text(job: ImageJob) -> tuple[str, str]:
    subject = str(SUBJECTS[job.state] % {"name": job.image_name})
    lines = [
        _("Project: %(project)s") % {"project": job.project.name},
        _("Volume: %(volume)s") % {"volume": job.volume.get("name") or job.volume_id},
        _("Image: %(name)s (%(id)s)")
        % {"name": job.image_name, "id": job.image_id or _("not created")},
        _("State: %(state)s") % {"state": job.get_state_display()},
    ]
    if job.finished_at:
        when = formats.date_format(timezone.localtime(job.finished_at), "Y-m-d H:i T")
        lines.append(_("Finished: %(when)s") % {"when": when})
    if job.error_message:
        lines.append(_("Why: %(why)s") % {"why": job.error_text})
    if job.error_detail:
        lines.append(str(K5_SAYS % {"text": job.error_detail}))
    if job.state == JobState.SYNC_FAILED:
        lines.append(
            _("Remedy: delete the image and create it again (the Retry action does both).")
        )
    if job.state == JobState.SUCCEEDED and job.is_windows:
        lines.append(_("After imaging Windows: restore the server's snapshot, then restart it."))
    lines.append(settings.PORTAL_BASE_URL.rstrip("/") + job_path(job))
    return subject, "\n".join(str(line) for line in lines)


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
        said(
            "notify.webhook_delivered" if delivered else "notify.webhook_failed",
            origin=webhook_origin(project.webhook_url),
            answer=what,
        ),
        detail={"channel": "webhook", "delivered": delivered, "answer": what},
    )
    return "webhook delivered" if delivered else "webhook failed"
