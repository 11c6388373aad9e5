"""K5Client: one keystoneauth session, the token, catalog lookup, and the HTTP rules.

The rules every call follows:
- explicit connect and read timeouts;
- GETs are retried a few times with exponential backoff after a 5xx, a connection error or a
  read timeout; nothing else is ever retried automatically (keystoneauth's own
  connect_retries/status_code_retries stay at 0);
- the password is sent only by `sign_in()`, and only when the client's owner lets it: a
  client built with `sign_in=` (the job engine's, which serialises sign-ins per project
  across every process under a lease) calls that function whenever it needs a token; one
  built without signs itself in. keystoneauth's own re-authentication is off (see
  identity.LockoutSafePassword): it would send the password from any thread, unserialised;
- a token is renewed before a call when it has less than `refresh_margin()` left;
- a 401 from a service gets one new sign-in and one re-send, then K5TokenRejected. Safe for
  POSTs — the upload included: the 401 comes from keystonemiddleware, which refuses the token
  before the service sees the request, so K5 did nothing (and counted nothing against the
  upload limit, which applies after authentication). Only a 401 is re-sent this way; a POST
  that may have reached K5 without a usable answer raises K5OutcomeUnknown;
- every HTTP call, the token request included, is reported to the optional observer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from keystoneauth1 import access as ks_access
from keystoneauth1 import exceptions as ka_exceptions
from keystoneauth1 import session as ks_session
from urllib3.exceptions import MaxRetryError, NewConnectionError

from . import deadline
from .catalog import Endpoint, Wanted, find_endpoint
from .errors import (
    K5Error,
    K5InvalidResponse,
    K5NotSignedIn,
    K5OutcomeUnknown,
    K5Unavailable,
    error_from_response,
    message_from_body,
    request_id_of,
)
from .identity import CallRecord, K5Config, LockoutSafePassword

logger = logging.getLogger(__name__)

BLOCK_STORAGE = "blockstorage"
IMAGE = "image"
COMPUTE = "compute"

SERVICES = (BLOCK_STORAGE, IMAGE, COMPUTE)

# K5's names for its services (found at the endpoint level too; see catalog.py).
_CATALOG = {
    (BLOCK_STORAGE, "v2"): Wanted(service_type="volumev2", name="blockstoragev2"),
    (BLOCK_STORAGE, "v3"): Wanted(service_type="volumev3", name="blockstoragev3"),
    (IMAGE, None): Wanted(service_type="image", name="image"),
    (COMPUTE, None): Wanted(service_type="compute", name="compute"),
}

# Answers after which a GET is tried again. 501 and the 4xx will not get better by waiting.
_RETRIABLE_STATUSES = frozenset({500, 502, 503, 504})
# A service answering these to a POST/DELETE may have acted before failing (a gateway that
# timed out, Cinder failing after creating the Glance image). 503 means it did not take it.
_UNKNOWN_OUTCOME_STATUSES = frozenset({500, 502, 504})

_IMAGE_VERSION_SUFFIX = re.compile(r"/v2(\.\d+)?$")

Observer = Callable[[CallRecord], None]
# Called whenever the client needs a (new) token; must leave it signed in (`sign_in()`) or
# raise. The job engine's takes a lease first, so that one process at a time signs in.
SignIn = Callable[["K5Client"], None]


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    request_id: str | None


class _TimeoutHttp(requests.Session):
    """requests.Session with a default (connect, read) timeout.

    keystoneauth's token request passes no timeout of its own; without this it could hang.
    """

    def __init__(self, timeout: tuple[float, float]):
        super().__init__()
        self.default_timeout = timeout
        # What keystoneauth mounts on a session it builds itself: TCP keepalive, so a
        # connection that died silently during a long read is noticed.
        for scheme in ("https://", "http://"):
            self.mount(scheme, ks_session.TCPKeepAliveAdapter())

    def request(self, method, url, *args, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        kwargs["timeout"] = deadline.cut(kwargs["timeout"], method=method, path=urlsplit(url).path)
        return super().request(method, url, *args, **kwargs)


class K5Client:
    """An authenticated connection to one K5 project in one region.

    Cheap to keep, safe to share between threads (one sign-in at a time per client). After K5
    rejects the password, every call raises K5CredentialError without sending it again:
    build a new client from corrected settings.

    `sign_in`: who signs the client in when it needs a token (see SignIn); by default the
    client does it itself, at once.
    """

    def __init__(
        self,
        config: K5Config,
        *,
        observer: Observer | None = None,
        sign_in: SignIn | None = None,
    ):
        self.config = config
        self._observer = observer
        self._sign_in_policy = sign_in
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._http = _TimeoutHttp(self._timeout)
        self._http.hooks["response"].append(self._record_response)
        # Base URL -> service, so that every recorded call says which service it went to
        # (K5 tells services apart by host, other clouds by path). Filled as endpoints are found.
        self._services: dict[str, str] = {config.auth_url.rstrip("/"): "identity"}
        self.auth = LockoutSafePassword(config, record=self._emit)
        self.session = ks_session.Session(
            auth=self.auth, session=self._http, verify=config.verify, app_name="k5-image-portal"
        )
        self._own_sign_in = threading.Lock()
        self._rejected_token: str | None = None
        # A token judged too short-lived for what is about to be sent (`keep_token_for`).
        self._short_token: str | None = None
        self._endpoints: tuple[ks_access.AccessInfo | None, dict[str, Endpoint]] = (None, {})

    def __repr__(self) -> str:
        return (
            f"<K5Client {self.config.auth_url} region={self.config.region} "
            f"project={self.config.project_id or self.config.project_name}>"
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> K5Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- the token ------------------------------------------------------------------------

    @property
    def project_id(self) -> str:
        """The scoped project's id (signs in if needed)."""
        project_id = self._access().project_id
        if not project_id:
            raise K5InvalidResponse("K5 identity issued a token that is not scoped to a project")
        return project_id

    def sign_in(self) -> None:
        """Send the password now and keep the token. The only place this client sends it;
        with an owner's `sign_in`, only that owner calls it."""
        self.auth.sign_in(self.session)
        self._rejected_token = None

    def ensure_signed_in(self) -> None:
        """Have a token with more than the refresh margin left, signing in if needed."""
        self._access()

    def needs_sign_in(self) -> bool:
        """No token, one K5 refused or judged too short for a long copy, or one with less
        than `refresh_margin()` left."""
        held = self.auth.auth_ref
        if held is None or held.auth_token in (self._rejected_token, self._short_token):
            return True
        # keystoneauth annotates the margin int; it only builds a timedelta from it.
        return held.will_expire_soon(self.refresh_margin(held))  # type: ignore[arg-type]

    def token_refused(self) -> bool:
        """A service refused the token held (401) — as it does every token of a user whose
        password was changed in K5."""
        held = self.auth.auth_ref
        return held is not None and held.auth_token == self._rejected_token

    def keep_token_for(self, seconds: float) -> ks_access.AccessInfo:
        """A token that stays valid at least `seconds` from now, signing in afresh (through
        the owner's sign-in) when the one held would expire sooner; returns it.

        Cinder copies a volume into Glance with the token of the request that started the
        copy: a token expiring before the copy ends leaves the image `saving` for ever. When
        even a new token lives less than `seconds`, the new one is still the best there is;
        the caller reads its `expires` (a copy that long is refused at submission)."""
        held = self._access()
        if _seconds_left(held) < seconds:
            self._short_token = held.auth_token
            held = self._access()
        return held

    def token_life(self) -> float | None:
        """How long K5's tokens live, from the one held (issued to expiry), in seconds."""
        held = self.auth.auth_ref
        if held is None or not held.issued or not held.expires:
            return None
        return (held.expires - held.issued).total_seconds()

    def refresh_margin(self, held: ks_access.AccessInfo | None = None) -> float:
        """How long before its expiry a token is replaced: the configured margin (5 min), or
        a quarter of the token's life if that is shorter — a token living less than the
        margin would otherwise be replaced before every call."""
        margin = self.config.token_refresh_margin
        held = held or self.auth.auth_ref
        if held is not None and held.issued and held.expires:
            life = (held.expires - held.issued).total_seconds()
            if life > 0:
                return min(margin, life / 4)
        return margin

    def _access(self) -> ks_access.AccessInfo:
        if self.needs_sign_in():
            if self._sign_in_policy is not None:
                self._sign_in_policy(self)
            else:
                with self._own_sign_in:
                    if self.needs_sign_in():  # another thread may have done it meanwhile
                        self.sign_in()
        held = self.auth.auth_ref
        if held is None or held.auth_token == self._rejected_token:
            raise K5NotSignedIn("K5 sign-in left no usable token")
        return held

    # --- the catalog ----------------------------------------------------------------------

    def endpoint(self, service: str) -> str:
        """The public catalog URL of a service ("blockstorage", "image", "compute") in the
        configured region (see catalog.py for how it is found)."""
        return self.find_endpoint(service).url

    def find_endpoint(self, service: str) -> Endpoint:
        """The service's endpoint and how it was found; K5EndpointNotFound saying what was
        searched when the catalog has none."""
        version = self.config.block_storage_version if service == BLOCK_STORAGE else None
        try:
            wanted = _CATALOG[(service, version)]
        except KeyError:
            raise ValueError(f"unknown K5 service {service!r}") from None
        held = self._access()
        token, found = self._endpoints
        if token is not held:  # a new token may come with a new catalog
            found = {}
            self._endpoints = (held, found)
        if service not in found:
            endpoint = find_endpoint(
                held.service_catalog.catalog, wanted, region=self.config.region
            )
            if service == IMAGE:
                # K5 lists the image service unversioned and the facade appends v2/; tolerate
                # a catalog that includes the version, as other OpenStack clouds do.
                url = _IMAGE_VERSION_SUFFIX.sub("", endpoint.url.rstrip("/"))
                endpoint = Endpoint(url=url, found_by=endpoint.found_by)
            found[service] = endpoint
            self._services.setdefault(endpoint.url.rstrip("/"), service)
        return found[service]

    # --- HTTP -----------------------------------------------------------------------------

    def get(self, service: str, path: str, *, params: dict | None = None) -> Reply:
        return self._send("GET", service, path, params=params, retries=self.config.get_retries)

    def post(
        self,
        service: str,
        path: str,
        *,
        json: Any,
        outcome_unknown: type[K5OutcomeUnknown] = K5OutcomeUnknown,
    ) -> Reply:
        """Send once. Never retried: K5 may already have acted on it."""
        return self._send("POST", service, path, json=json, outcome_unknown=outcome_unknown)

    def delete(self, service: str, path: str) -> Reply:
        return self._send("DELETE", service, path, outcome_unknown=K5OutcomeUnknown)

    def get_pages(
        self,
        service: str,
        path: str,
        *,
        collection: str,
        next_href: Callable[[dict], str | None],
        params: dict | None = None,
    ) -> Iterator[tuple[dict, str | None]]:
        """Every item of a paginated collection, with the request id of its page.

        The next link only lends its marker (and limit): the request goes to the catalog
        endpoint again, since a real cloud's link may be relative or name an internal host.
        """
        params = {key: value for key, value in (params or {}).items() if value is not None}
        params.setdefault("limit", self.config.page_size)
        seen_markers: set[str] = set()
        for _page in range(self.config.max_pages):
            reply = self.get(service, path, params=params)
            with parsing(path, reply.request_id):
                items = reply.body[collection]
            if not isinstance(items, list):
                raise K5InvalidResponse(
                    f"{collection!r} is not a list",
                    method="GET",
                    path=path,
                    request_id=reply.request_id,
                )
            for item in items:
                yield item, reply.request_id
            href = next_href(reply.body)
            if not href:
                return
            query = parse_qs(urlsplit(href).query)
            markers = query.get("marker")
            marker = markers[-1] if markers else None
            if not marker or marker in seen_markers:
                raise K5InvalidResponse(
                    f"K5's next link {'repeats' if marker else 'lacks'} a page marker; "
                    "stopped listing to avoid an endless loop",
                    method="GET",
                    path=path,
                    request_id=reply.request_id,
                )
            seen_markers.add(marker)
            params["marker"] = marker
            if query.get("limit"):
                params["limit"] = query["limit"][-1]
        raise K5InvalidResponse(
            f"more than {self.config.max_pages} pages; stopped listing", method="GET", path=path
        )

    def _send(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        retries: int = 0,
        outcome_unknown: type[K5OutcomeUnknown] | None = None,
    ) -> Reply:
        url = self.endpoint(service).rstrip("/") + "/" + path.lstrip("/")
        shown_path = urlsplit(url).path
        attempt = 0
        signed_in_again = False
        while True:
            started = time.monotonic()
            token = self._access().auth_token
            try:
                # The token is sent by hand (authenticated=False): keystoneauth neither adds
                # one nor signs in again after a 401.
                response = self.session.request(
                    url,
                    method,
                    json=json,
                    params=params,
                    headers={"Accept": "application/json", "X-Auth-Token": token},
                    authenticated=False,
                    allow_reauth=False,
                    timeout=self._timeout,
                    raise_exc=False,
                    connect_retries=0,
                    status_code_retries=0,
                )
            except ka_exceptions.ConnectionError as exc:
                failure, maybe_sent = _describe_transport_failure(exc)
                self._emit(
                    CallRecord(
                        method,
                        shown_path,
                        None,
                        None,
                        time.monotonic() - started,
                        failure,
                        service=service,
                    )
                )
                if isinstance(exc, ka_exceptions.SSLError):
                    raise K5Error(
                        f"TLS failure talking to K5: {failure}", method=method, path=shown_path
                    ) from None
                if outcome_unknown is not None and maybe_sent:
                    raise outcome_unknown(
                        f"{failure} after the request was sent: K5 may or may not have acted "
                        "on it; check before sending it again",
                        method=method,
                        path=shown_path,
                    ) from None
                if deadline.exhausted():
                    raise deadline.too_slow(method=method, path=shown_path) from None
                if attempt < retries and self._may_retry(attempt):
                    attempt = self._pause_before_retry(attempt, method, shown_path, failure)
                    continue
                raise K5Unavailable(
                    f"{failure}" + ("" if maybe_sent else " (the request was not sent)"),
                    method=method,
                    path=shown_path,
                ) from None
            except ka_exceptions.ClientException as exc:
                raise K5Error(
                    f"{type(exc).__name__}: {exc}", method=method, path=shown_path
                ) from None

            status = response.status_code
            if status < 400:
                return Reply(status, _json_or_none(response), request_id_of(response))
            if status == 401 and not signed_in_again:
                # Refused before the service saw it (see the module docstring): nothing was
                # done, so sign in again — through the owner's sign-in — and send it once more.
                self._rejected_token = token
                signed_in_again = True
                continue
            if status == 401:
                # A K5TokenRejected (error_from_response), with K5's words only: the portal's
                # own sentence about it is written where it is shown, in the reader's language.
                raise error_from_response(response, method, shown_path)
            if status in _RETRIABLE_STATUSES and attempt < retries and self._may_retry(attempt):
                attempt = self._pause_before_retry(attempt, method, shown_path, f"HTTP {status}")
                continue
            error = error_from_response(response, method, shown_path)
            if outcome_unknown is not None and status in _UNKNOWN_OUTCOME_STATUSES:
                raise outcome_unknown(
                    f"K5 failed with HTTP {status} and may already have acted: {error.message}",
                    status=status,
                    request_id=error.request_id,
                    method=method,
                    path=shown_path,
                )
            raise error

    def _retry_delay(self, attempt: int) -> float:
        return min(self.config.retry_backoff * (2**attempt), self.config.retry_backoff_max)

    def _may_retry(self, attempt: int) -> bool:
        """Not when the pause alone would use up the caller's time budget."""
        return deadline.allows_pause(self._retry_delay(attempt))

    def _pause_before_retry(self, attempt: int, method: str, path: str, reason: str) -> int:
        delay = self._retry_delay(attempt)
        logger.warning("K5 %s %s failed (%s); retrying in %.2fs", method, path, reason, delay)
        time.sleep(delay)
        return attempt + 1

    # --- observation ----------------------------------------------------------------------

    def _record_response(self, response: requests.Response, *args, **kwargs) -> None:
        # A requests hook sees every answer, including keystoneauth's token request; it never
        # reads headers here, so no token reaches a record.
        error = None
        if response.status_code >= 400:
            error = message_from_body(_json_or_none(response), response.text) or None
        self._emit(
            CallRecord(
                method=response.request.method or "",
                path=urlsplit(response.url).path,
                status=response.status_code,
                request_id=request_id_of(response),
                duration=response.elapsed.total_seconds(),
                error=error,
                service=self._service_of(response.url),
            )
        )

    def _service_of(self, url: str) -> str:
        """The service whose base URL is the longest prefix of `url` ("" when none is)."""
        best, service = "", ""
        for base, name in list(self._services.items()):
            if len(base) > len(best) and (url == base or url.startswith(base + "/")):
                best, service = base, name
        return service

    def _emit(self, record: CallRecord) -> None:
        logger.debug(
            "K5 %s %s -> %s in %.3fs request_id=%s%s",
            record.method,
            record.path,
            record.status,
            record.duration,
            record.request_id,
            f" error={record.error}" if record.error else "",
        )
        if self._observer is None:
            return
        try:
            self._observer(record)
        except Exception:
            # The call already happened; losing its answer (say, an accepted upload) because
            # an audit write failed would be worse than a missing audit record.
            logger.exception("K5 call observer failed for %s %s", record.method, record.path)


def _seconds_left(held: ks_access.AccessInfo) -> float:
    if not held.expires:
        return float("inf")
    return (held.expires - datetime.now(UTC)).total_seconds()


@contextmanager
def parsing(path: str, request_id: str | None) -> Iterator[None]:
    """Reading K5's answer inside this block: an answer of the wrong shape (a missing key, a
    wrong type) becomes K5InvalidResponse instead of a bare KeyError."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise K5InvalidResponse(
            f"unexpected answer from K5 ({type(exc).__name__}: {exc})",
            request_id=request_id,
            path=path,
        ) from None


def _json_or_none(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _describe_transport_failure(exc: ka_exceptions.ConnectionError) -> tuple[str, bool]:
    """(what went wrong, whether the request may have reached K5).

    keystoneauth folds requests' connect and read timeouts into one ConnectTimeout; the
    requests exception it was raised from (its __context__) still tells them apart.
    """
    cause = exc.__context__
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return "connect timeout", False
    if isinstance(cause, requests.exceptions.ReadTimeout):
        return "read timeout", True
    if isinstance(cause, requests.exceptions.ConnectionError):
        inner = cause.args[0] if cause.args else None
        if isinstance(inner, MaxRetryError) and isinstance(inner.reason, NewConnectionError):
            return "cannot connect", False
        return "connection lost", True
    if isinstance(exc, ka_exceptions.SSLError):
        return "TLS error", False
    return type(exc).__name__, True
