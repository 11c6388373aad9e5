"""One K5 client per project per process, and what happens when K5 rejects a credential."""

from __future__ import annotations

import threading

from django.db import transaction
from django.utils import timezone

from imaging.engine.k5calls import observe
from imaging.k5 import K5Client, K5CredentialError
from imaging.models import EventKind, ImageJob, JobEvent, K5Project

_clients: dict[int, tuple[str, K5Client]] = {}
_lock = threading.Lock()


class CredentialsInvalid(Exception):
    """The project's credential was rejected earlier; nothing is sent until it is changed."""


def client_for(project: K5Project) -> K5Client:
    """A cached client, so that ticks reuse one token (3 h) instead of signing in each time.

    The cache key includes the encrypted password and the connection settings: an admin's
    change takes effect at the next call.
    """
    if not project.credentials_valid:
        raise CredentialsInvalid(project.credentials_error or "the K5 credential was rejected")
    key = "|".join([project.password_encrypted, project.identity_url, project.region,
                    project.contract, project.username, project.k5_project_id,
                    project.block_storage_version])
    with _lock:
        cached = _clients.get(project.pk)
        if cached and cached[0] == key:
            return cached[1]
        client = project.k5_client(observer=observe)
        _clients[project.pk] = (key, client)
        if cached:
            cached[1].close()
        return client


def forget_clients() -> None:
    with _lock:
        for _, client in _clients.values():
            client.close()
        _clients.clear()


def mark_credentials_invalid(project: K5Project, error: K5CredentialError) -> None:
    """Stop using the credential until an admin changes it, and tell every waiting job why."""
    message = (f"K5 rejected the credential of {project.username}: {error.message}. No further "
               "attempt is made until an admin updates it (K5 locks the user after 5 wrong "
               "passwords in 15 minutes).")
    with transaction.atomic():
        changed = K5Project.objects.filter(pk=project.pk, credentials_invalid_at=None).update(
            credentials_invalid_at=timezone.now(), credentials_error=message)
        if changed:
            JobEvent.record(project_id=project.pk, job_id=None, kind=EventKind.NOTE,
                            message=message, detail={"request_id": error.request_id})
        ImageJob.objects.active().filter(project=project).update(waiting_reason=message)
    project.credentials_invalid_at = project.credentials_invalid_at or timezone.now()
    project.credentials_error = message
