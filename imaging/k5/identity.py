"""K5 connection settings and the Keystone v3 password plugin that never signs in by itself.

K5 locks a user for 15 minutes after 5 wrong passwords within 15 minutes, and the portal runs
many jobs with one service user: a loop that re-sends a rejected password would lock everyone
out. So the first rejection is remembered and the plugin refuses to send the password again.

keystoneauth would also send the password on its own — when a token nears its expiry, and
after a service answers 401 — from whatever thread or process happens to be calling, outside
any serialisation its user has arranged. This plugin sends it only when told to
(`sign_in()`); K5Client decides when, and lets its owner (the job engine) do it under a lease.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from keystoneauth1 import access
from keystoneauth1 import exceptions as ka_exceptions
from keystoneauth1.identity import v3

from .errors import (
    K5CredentialError,
    K5Error,
    K5InvalidResponse,
    K5NotSignedIn,
    K5RateLimited,
    K5Unavailable,
    error_from_response,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from keystoneauth1 import session as ks_session


@dataclass(frozen=True, kw_only=True)
class K5Config:
    """How to reach one K5 project.

    The user is `user_id`, or `username` in the domain named by `contract` (K5's domain name
    is the contract number). The project is `project_id`, or `project_name` in
    `project_domain_name` (default: the contract).
    """

    auth_url: str
    region: str
    password: str = field(repr=False)
    contract: str | None = None
    username: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_name: str | None = None
    # Older regions publish Block Storage v2, jp-east-3/jp-west-3 document v3.
    block_storage_version: str = "v2"
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    # GETs only: retries after a 5xx, a connection error or a read timeout, with exponential
    # backoff from retry_backoff seconds, capped at retry_backoff_max.
    get_retries: int = 2
    retry_backoff: float = 0.5
    retry_backoff_max: float = 8.0
    # Tokens live 3 hours; a call at the very end of that window can fail, so a new token is
    # fetched when the current one has less than this many seconds left — or less than a
    # quarter of its life, if that is shorter (K5Client.refresh_margin): with a margin
    # longer than the token's life, every call would sign in first.
    token_refresh_margin: float = 300.0
    page_size: int = 1000
    max_pages: int = 10_000
    verify: bool | str = True

    def __post_init__(self):
        if self.block_storage_version not in ("v2", "v3"):
            raise ValueError(
                f"block_storage_version must be 'v2' or 'v3', not {self.block_storage_version!r}"
            )
        if not self.user_id and not (self.username and self.contract):
            raise ValueError("K5Config needs user_id, or username and contract")
        if not self.project_id and not (
            self.project_name and (self.project_domain_name or self.contract)
        ):
            raise ValueError("K5Config needs project_id, or project_name and its domain")
        if not self.password:
            raise ValueError("K5Config needs a password")
        for name in ("connect_timeout", "read_timeout", "token_refresh_margin"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.get_retries < 0 or self.page_size < 1 or self.max_pages < 1:
            raise ValueError("get_retries must be >= 0, page_size and max_pages >= 1")


@dataclass(frozen=True)
class CallRecord:
    """One HTTP call to K5, for the audit trail. Never holds credentials or tokens."""

    method: str
    path: str
    status: int | None
    request_id: str | None
    duration: float
    error: str | None = None
    # Which K5 service answered ("identity", "blockstorage", "image", "compute"), for metrics.
    service: str = ""


class LockoutSafePassword(v3.Password):
    """keystoneauth's v3 password plugin, except that it sends the password only from
    `sign_in()`, and never again once K5 rejected it.

    keystoneauth's own re-authentication is off: `reauthenticate=False` (no new token near
    expiry), `invalidate()` does nothing (no new token after a 401), and `get_access()` never
    fetches one. Errors come out as the facade's K5Error family.
    """

    def __init__(self, config: K5Config, *, record: Callable[[CallRecord], None] | None = None):
        super().__init__(
            reauthenticate=False,
            auth_url=config.auth_url,
            password=config.password,
            user_id=config.user_id,
            username=None if config.user_id else config.username,
            user_domain_name=None if config.user_id else config.contract,
            project_id=config.project_id,
            project_name=None if config.project_id else config.project_name,
            project_domain_name=(
                None if config.project_id else config.project_domain_name or config.contract
            ),
        )
        self._record = record
        self._rejection: K5CredentialError | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} auth_url={self.auth_url!r}>"

    @property
    def rejected(self) -> bool:
        return self._rejection is not None

    def sign_in(self, session: ks_session.Session) -> access.AccessInfo:
        """Send the password now and keep the token it gives. The only way this plugin ever
        sends it; the plugin's lock keeps two threads from sending it at once."""
        with self._lock:
            try:
                self.auth_ref = self.get_auth_ref(session)
            except K5CredentialError:
                self.auth_ref = None  # whatever token was held, its user is refused now
                raise
            return self.auth_ref

    def get_access(self, session: ks_session.Session, **kwargs) -> access.AccessInfo:
        """The token held; never a new one (keystoneauth's would sign in here)."""
        if self.auth_ref is None:
            raise K5NotSignedIn("no K5 token: sign in first (K5Client.sign_in)")
        return self.auth_ref

    def invalidate(self) -> bool:
        # keystoneauth calls this after a 401 to sign in again by itself; K5Client handles
        # a rejected token instead (see K5Client._send).
        return False

    def get_auth_ref(self, session: ks_session.Session, **kwargs):
        if self._rejection is not None:
            first = self._rejection
            raise K5CredentialError(
                "not sending the password again: K5 rejected it earlier "
                f"({first.message}); fix the credential and create a new client",
                status=first.status,
                request_id=first.request_id,
                method=first.method,
                path=first.path,
            )
        started = time.monotonic()
        try:
            return super().get_auth_ref(session, **kwargs)
        except ka_exceptions.HttpError as exc:
            error = _auth_error(exc)
            if isinstance(error, K5CredentialError):
                self._rejection = error
            # `from None`: keystoneauth's exception holds the request, i.e. the password.
            raise error from None
        except ka_exceptions.ConnectionError as exc:
            self._note(
                CallRecord(
                    "POST",
                    self._token_path(),
                    None,
                    None,
                    time.monotonic() - started,
                    type(exc).__name__,
                    service="identity",
                )
            )
            raise K5Unavailable(
                f"cannot reach K5 identity: {type(exc).__name__}",
                method="POST",
                path=self._token_path(),
            ) from None
        except ka_exceptions.InvalidResponse:
            raise K5InvalidResponse(
                "K5 identity answered without a token", method="POST", path=self._token_path()
            ) from None

    def _token_path(self) -> str:
        return urlsplit(self.auth_url).path.rstrip("/") + "/auth/tokens"

    def _note(self, record: CallRecord) -> None:
        if self._record is not None:
            self._record(record)


def _auth_error(exc: ka_exceptions.HttpError) -> K5Error:
    response = exc.response
    path = urlsplit(exc.url or "").path
    if response is None:
        return K5Unavailable(
            f"K5 identity failed: HTTP {exc.http_status}",
            status=exc.http_status,
            method="POST",
            path=path,
        )
    error = error_from_response(response, "POST", path)
    # 4xx from the token endpoint is about the credential or scope (wrong password, locked
    # user, unknown project): permanent until a person fixes it. Rate limits and 5xx are not.
    if 400 <= response.status_code < 500 and not isinstance(error, K5RateLimited):
        return K5CredentialError(
            error.message,
            status=error.status,
            request_id=error.request_id,
            method="POST",
            path=path,
        )
    return error
