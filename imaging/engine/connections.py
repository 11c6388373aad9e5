"""One K5 client per project per process, and what happens when K5 rejects a credential."""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import threading
import time
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import lazy

from imaging.engine.errors import CredentialsInvalid
from imaging.engine.telemetry import k5_observer
from imaging.k5 import (
    Endpoint,
    K5Client,
    K5Config,
    K5CredentialError,
    K5EndpointNotFound,
    K5Unavailable,
)
from imaging.k5 import deadline as k5_deadline
from imaging.k5.client import SERVICES
from imaging.messages import Said, render, said
from imaging.models import EngineLease, EventKind, ImageJob, JobEvent, K5Project

_clients: dict[int, tuple[str, K5Client]] = {}
_lock = threading.Lock()
_PROCESS = f"{socket.gethostname()}:{os.getpid()}"


def client_for(project: K5Project, *, despite_rejection: bool = False) -> K5Client:
    """A cached client, signed in, so that ticks reuse one token (3 h) instead of signing in
    each time. The only way anything in the portal gets a K5 client.

    The cache key includes the encrypted password and the connection settings: an admin's
    change takes effect at the next call. Raises CredentialsInvalid when the password is known
    to be wrong, and K5Error when signing in fails otherwise.

    Every sign-in of the client — this first one, a renewal near the token's expiry, and a new
    one after K5 refused the token (a 401) — goes through `_sign_in`, under the lease. So any
    call made with the client may raise CredentialsInvalid too, when K5 refuses the token and
    the credential turns out to be rejected meanwhile.

    `despite_rejection` (an operator's explicit `k5project check --force`) sends a rejected
    password once more, still under the lease; if K5 accepts it, the mark is cleared and
    waiting jobs move on.
    """
    if not project.credentials_valid and not despite_rejection:
        raise credentials_invalid(project)
    client = _cached_client(project)
    if despite_rejection and not project.credentials_valid:
        _sign_in(project.pk, _key(project), client, despite_rejection=True)
        project.refresh_from_db(fields=[*CREDENTIALS_FIELDS, "credentials_invalid_at"])
    else:
        client.ensure_signed_in()
    return client


def _key(project: K5Project) -> str:
    return "|".join(
        [
            project.password_encrypted,
            project.identity_url,
            project.region,
            project.contract,
            project.username,
            project.k5_project_id,
            project.block_storage_version,
        ]
    )


def _cached_client(project: K5Project) -> K5Client:
    key = _key(project)
    with _lock:
        cached = _clients.get(project.pk)
        if cached and cached[0] == key:
            return cached[1]
        client = K5Client(
            project.k5_config(),
            observer=k5_observer(project.name),
            sign_in=functools.partial(_sign_in, project.pk, key),
        )
        _clients[project.pk] = (key, client)
        if cached:
            cached[1].close()
        return client


def _sign_in(
    project_pk: int, key: str, client: K5Client, *, despite_rejection: bool = False
) -> None:
    """Sign `client` in to K5 — one process at a time per K5 user, across every worker, host
    and project. The client calls this whenever it needs a token: first use, a token near its
    expiry, a token K5 refused (a password changed in K5 revokes the user's tokens).

    Each worker process has its own client per project, so a freshly started cluster — or
    every process at once after K5 revoked their tokens — would otherwise send the password
    from each: with a wrong password that is one rejection per process and per project, and K5
    locks the user after five. The lease is the user's, not the project's: one K5 user often
    serves every project of a contract. Under it the credential is read again; once one sign-in
    has been rejected, every project holding that password for that user carries the mark, and
    the others send nothing. A holder that dies lets the lease run out.

    One exception keeps a cold start (or the renewal of tokens all taken then) fast — 80
    projects of one user, one after another at 400 ms a sign-in, would wait half a minute: a
    password K5 accepted for this user in this process less than `PROVEN_SECONDS` ago is sent
    for the user's other projects at once, without the lease. Never after a refused token
    (K5 refuses them all when the password is changed in K5): that sign-in takes the lease.
    """
    config = client.config
    lease = sign_in_lease(config)
    shortcut = not despite_rejection and not client.token_refused()
    if shortcut and _proven(lease, config.password):
        _sign_in_proven(project_pk, key, client, lease)
        return
    hold = config.connect_timeout + config.read_timeout + 5
    holder = f"{_PROCESS}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + hold
    while not EngineLease.acquire(lease, holder, hold):
        if k5_deadline.exhausted():  # a web request's time budget (imaging.k5.deadline)
            raise k5_deadline.too_slow()
        if time.monotonic() > deadline:
            raise _our_finding("k5.sign_in_busy")
        if shortcut and _proven(lease, config.password):
            # Another thread of this process has just had this password accepted.
            _sign_in_proven(project_pk, key, client, lease)
            return
        time.sleep(0.1)
    try:
        _sign_in_now(project_pk, key, client, lease=lease, despite_rejection=despite_rejection)
    finally:
        EngineLease.release(lease, holder)


def _our_finding(code: str) -> K5Unavailable:
    """K5 was not asked: the portal's own reason, which may pass for K5's (a K5Unavailable,
    retried later) but is rendered as the portal's words (`K5Error.said`)."""
    finding = said(code)
    error = K5Unavailable(finding.english())
    error.said = finding
    return error


PROVEN_SECONDS = 60
_proven_passwords: dict[str, tuple[bytes, float]] = {}  # user's lease -> (digest, when)


def _proven(lease: str, password: str) -> bool:
    proven = _proven_passwords.get(lease)
    return (
        proven is not None
        and proven[0] == hashlib.sha256(password.encode()).digest()
        and time.monotonic() - proven[1] < PROVEN_SECONDS
    )


_project_locks: dict[int, threading.Lock] = {}


def _sign_in_proven(project_pk: int, key: str, client: K5Client, lease: str) -> None:
    """Without the lease, but one thread at a time per project: the others find it done."""
    with _lock:
        project_lock = _project_locks.setdefault(project_pk, threading.Lock())
    with project_lock:
        _sign_in_now(project_pk, key, client, lease=lease, despite_rejection=False)


def _sign_in_now(
    project_pk: int, key: str, client: K5Client, *, lease: str, despite_rejection: bool
) -> None:
    project = K5Project.objects.get(pk=project_pk)
    if not project.credentials_valid and not despite_rejection:
        raise credentials_invalid(project)
    if _key(project) != key:
        # The password (or connection) changed since this client was made: never send the
        # old one, which K5 may now refuse and count towards the lockout.
        raise _our_finding("k5.credential_changed")
    if not client.needs_sign_in() and not despite_rejection:
        return  # another thread of this process signed it in while this one waited
    try:
        client.sign_in()
    except K5CredentialError as exc:
        _proven_passwords.pop(lease, None)
        mark_credentials_invalid(project, exc)
        raise credentials_invalid(project) from None
    _proven_passwords[lease] = (
        hashlib.sha256(client.config.password.encode()).digest(),
        time.monotonic(),
    )
    if not project.credentials_valid:
        _clear_credentials_invalid(project)


def endpoints_of(project: K5Project) -> dict[str, Endpoint | str]:
    """Each K5 service the portal uses: its endpoint and how the catalog gave it, or why no
    endpoint was found (for `k5project check`)."""
    client = client_for(project)
    found: dict[str, Endpoint | str] = {}
    for service in SERVICES:
        try:
            found[service] = client.find_endpoint(service)
        except K5EndpointNotFound as exc:
            found[service] = exc.message
    return found


def forget_clients() -> None:
    with _lock:
        for _, client in _clients.values():
            client.close()
        _clients.clear()
        _proven_passwords.clear()


def sign_in_lease(config: K5Config) -> str:
    """The lease under which the K5 user of `config` signs in (a user is unique within its
    contract, the Keystone domain, at one identity endpoint)."""
    user = config.username or config.user_id or ""
    who = "\n".join([config.auth_url.rstrip("/"), config.contract or "", user])
    return f"sign-in:{hashlib.sha256(who.encode()).hexdigest()[:32]}"


def same_credential(project: K5Project) -> list[K5Project]:
    """The projects (this one included) that sign in as this project's K5 user with this
    project's password: what K5 says of one password it says of them all."""
    password = project.get_password()
    return [
        other
        for other in K5Project.objects.filter(
            contract=project.contract, username=project.username
        ).order_by("pk")
        if other.identity_url.rstrip("/") == project.identity_url.rstrip("/")
        and (other.pk == project.pk or other.get_password() == password)
    ]


def _clear_credentials_invalid(project: K5Project) -> None:
    message = said("credentials.accepted_again", username=project.username)
    with transaction.atomic():
        for same in same_credential(project):
            if same.credentials_valid:
                continue
            K5Project.objects.filter(pk=same.pk).update(
                credentials_invalid_at=None, **_credentials_fields("")
            )
            JobEvent.record(project_id=same.pk, job_id=None, kind=EventKind.NOTE, message=message)
            ImageJob.objects.active().filter(project=same).filter(
                Q(waiting_reason=same.credentials_error)
                | Q(waiting_code__in=("credentials.rejected", "waiting.credentials_invalid"))
            ).update(**ImageJob.said_fields(waiting_reason=""))
    project.credentials_invalid_at = None
    for name, value in _credentials_fields("").items():
        setattr(project, name, value)


def credentials_waiting(project: K5Project) -> Said | str:
    """Why a job of a project whose credential is rejected waits: what the rejection said —
    the project keeps its meaning; one marked before it did, its event; else its English."""
    if project.credentials_error_code:
        return project.credentials_said
    rejected = (
        JobEvent.objects.filter(project=project, code="credentials.rejected")
        .order_by("-created_at", "-id")
        .first()
    )
    if rejected is None:
        return project.credentials_error
    params = rejected.params
    return said("credentials.rejected", username=params["username"], k5_says=params["k5_says"])


def mark_credentials_invalid(project: K5Project, error: K5CredentialError) -> None:
    """Stop using the credential until an admin changes it — in every project that holds the
    same password for the same K5 user — and tell every waiting job why."""
    said_ = said("credentials.rejected", username=project.username, k5_says=error.message)
    # Projects, jobs and events keep the meaning (and the English, for the logs).
    fields = _credentials_fields(said_)
    now = timezone.now()
    with transaction.atomic():
        for same in same_credential(project):
            changed = K5Project.objects.filter(pk=same.pk, credentials_invalid_at=None).update(
                credentials_invalid_at=now, **fields
            )
            if changed:
                JobEvent.record(
                    project_id=same.pk,
                    job_id=None,
                    kind=EventKind.NOTE,
                    message=said_
                    if same.pk == project.pk
                    else said(
                        "credentials.rejected_shared",
                        username=project.username,
                        project=project.name,
                        k5_says=error.message,
                    ),
                    detail={"request_id": error.request_id, "project": project.name},
                )
            ImageJob.objects.active().filter(project=same).update(
                **ImageJob.said_fields(waiting_reason=said_)
            )
    project.credentials_invalid_at = project.credentials_invalid_at or now
    for name, value in fields.items():
        setattr(project, name, value)


CREDENTIALS_FIELDS = ("credentials_error", "credentials_error_code", "credentials_error_params")


def _credentials_fields(why: Said | str) -> dict:
    """The three fields a credential's rejection is stored in (code, params, English)."""
    if isinstance(why, Said):
        return dict(zip(CREDENTIALS_FIELDS, (why.english(), why.code, why.params), strict=True))
    return dict(zip(CREDENTIALS_FIELDS, (why, "", {}), strict=True))


def credentials_invalid(project: K5Project) -> CredentialsInvalid:
    """The refusal for a project whose credential K5 rejected: English for the API and logs,
    the reader's language on pages (rendered when shown)."""
    why = project.credentials_said
    if isinstance(why, Said):
        return CredentialsInvalid(_rendered(why.code, why.params))
    return CredentialsInvalid(why or "the K5 credential was rejected")


_rendered = lazy(render, str)
