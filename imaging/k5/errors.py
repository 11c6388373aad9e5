"""The one exception family the K5 facade raises.

Every error carries what a person or the job engine needs to act on it: the HTTP status (None
when no answer came), K5's own message, K5's request id (what Fujitsu support asks for), the
call (method + path, never the host's credentials) and `permanent`: True when repeating the
same call cannot succeed until a person changes something.
"""

from __future__ import annotations

import email.utils
import json
import re
from datetime import UTC, datetime
from typing import TypedDict

import requests

_MAX_MESSAGE = 500


class K5Error(Exception):
    """Base of every error the facade raises."""

    permanent: bool = True
    # Set by the engine on an error that is its own finding, not K5's answer (e.g. another
    # worker holds the sign-in): that finding as meaning (imaging.messages.Said), so it is
    # rendered in the reader's language and never shown as K5's words.
    said: object | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        permanent: bool | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.method = method
        self.path = path
        if permanent is not None:
            self.permanent = permanent

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        request = f" (request id {self.request_id})" if self.request_id else ""
        return f"{where}{status}{self.message}{request}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, message={self.message!r}, "
            f"request_id={self.request_id!r}, method={self.method!r}, path={self.path!r}, "
            f"permanent={self.permanent!r})"
        )


class K5CredentialError(K5Error):
    """Keystone refused the password (or the user is locked out).

    Permanent: K5 locks a user after 5 wrong passwords in 15 minutes, so the client that got this
    never sends the password again; a person has to fix the credential.
    """


class K5AccessDenied(K5Error):
    """A service refused the call (403), or refused a fresh token (K5TokenRejected)."""


class K5TokenRejected(K5AccessDenied):
    """401 from a service: the token was refused (expired, revoked by a password change).

    keystonemiddleware answers it before the service sees the request, so nothing was done:
    K5Client signs in again (through its owner's sign-in, which the engine serialises) and
    re-sends the call once — a POST too. Raised only when the re-sent call is refused again.
    """

    permanent = False


class K5NotSignedIn(K5Error):
    """The client holds no token and was not asked to sign in (a bug, not a K5 answer)."""

    permanent = False


class K5EndpointNotFound(K5Error):
    """The service catalog has no public endpoint with that name in the configured region."""


class K5BadRequest(K5Error):
    """400: K5 rejected the request as it stands (e.g. the volume is not in a state to upload)."""


class K5NotFound(K5Error):
    """404: the resource does not exist (or belongs to another project)."""


class K5Conflict(K5Error):
    """409: the resource's state forbids the call (e.g. deleting a protected image)."""


class K5RateLimited(K5Error):
    """413/429: too many requests; `retry_after` is in seconds when K5 said so."""

    permanent = False

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class K5Unavailable(K5Error):
    """A 5xx answer, or K5 could not be reached; trying again later may work."""

    permanent = False


class K5InvalidResponse(K5Error):
    """K5 answered something the facade cannot understand (not JSON, a pagination loop...)."""

    permanent = False


class K5OutcomeUnknown(K5Error):
    """A call that changes something may have reached K5, but no usable answer came back.

    Deliberately NOT a K5Unavailable: whoever catches "unavailable, retry later" must not send
    the call again blindly. The caller has to look at K5 to learn what happened.
    """

    permanent = False


class K5UploadOutcomeUnknown(K5OutcomeUnknown):
    """The os-volume_upload_image request may or may not have been accepted.

    K5 allows only 4 uploads an hour per project and happily creates two images of one name,
    so never re-send: reconcile by looking for the image by name and at the volume's status.
    """


def request_id_of(response: requests.Response) -> str | None:
    """K5's request id: Cinder, Glance and Keystone send one header, Nova another."""
    return response.headers.get("x-openstack-request-id") or response.headers.get(
        "x-compute-request-id"
    )


class _CallFields(TypedDict):
    status: int
    request_id: str | None
    method: str
    path: str


def error_from_response(response: requests.Response, method: str, path: str) -> K5Error:
    """The K5Error for a service's 4xx/5xx answer."""
    status = response.status_code
    body = _json_body(response)
    fields: _CallFields = {
        "status": status,
        "request_id": request_id_of(response),
        "method": method,
        "path": path,
    }
    message = message_from_body(body, response.text) or response.reason or f"HTTP {status}"
    if status == 400:
        return K5BadRequest(message, **fields)
    if status == 401:
        return K5TokenRejected(message, **fields)
    if status == 403:
        return K5AccessDenied(message, **fields)
    if status == 404:
        return K5NotFound(message, **fields)
    if status == 409:
        return K5Conflict(message, **fields)
    if status in (413, 429):
        return K5RateLimited(message, retry_after=retry_after_of(response, body), **fields)
    if status >= 500:
        return K5Unavailable(message, **fields)
    return K5Error(message, **fields)


def message_from_body(body: object, text: str = "") -> str:
    """K5's message from an error body, whichever service's shape it has.

    Keystone: {"error": {"message"}}; Cinder/Nova: {"badRequest": {"message"}} (any fault
    name); Glance v2: {"message", "code", "title"} or plain text.
    """
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return _short(body["message"])
        for value in body.values():
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                # Rate-limit faults put the useful part ("Only 4 ... every 3600 seconds.")
                # in `details`, next to a generic message.
                details = value.get("details")
                if isinstance(details, str) and details and details != value["message"]:
                    return _short(f"{value['message']} {details}")
                return _short(value["message"])
    return _short(re.sub(r"<[^>]+>", " ", text or ""))


def retry_after_of(response: requests.Response, body: object = None) -> float | None:
    """Seconds to wait: the Retry-After header (seconds or HTTP-date), else Nova/Cinder's
    `retryAfter` in the overLimit body."""
    header = response.headers.get("Retry-After")
    if header:
        seconds = _parse_retry_after(header.strip())
        if seconds is not None:
            return seconds
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and "retryAfter" in value:
                seconds = _parse_retry_after(str(value["retryAfter"]))
                if seconds is not None:
                    return seconds
    return None


def _parse_retry_after(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _json_body(response: requests.Response) -> object:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"
