"""Error bodies in the shape each OpenStack service gives them.

Handlers raise `ApiError(status, message)`; the server renders it for the service the path
belongs to (its "family"), so a 404 from Cinder looks like Cinder's and one from Glance like
Glance's.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

IDENTITY = "identity"
VOLUME = "volume"
COMPUTE = "compute"
IMAGE = "image"
CONTROL = "control"

# The fault names of cinder/nova `api/openstack/wsgi.py` (`Fault._fault_names`).
FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}

UNAUTHENTICATED = "The request you have made requires authentication."


class ApiError(Exception):
    """An HTTP error answer; `extra` adds fields to the fault object (e.g. `retryAfter`)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        family: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}
        self.family = family


def family_of(path: str) -> str:
    for prefix, family in (
        ("/blockstorage", VOLUME),
        ("/compute", COMPUTE),
        ("/image", IMAGE),
        ("/_sim", CONTROL),
    ):
        if path == prefix or path.startswith(prefix + "/"):
            return family
    return IDENTITY


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_body(
    family: str, status: int, message: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    if status == 401 and family != CONTROL:
        # keystonemiddleware answers 401 for every service, in Keystone's shape.
        family = IDENTITY
    if family in (VOLUME, COMPUTE):
        name = FAULT_NAMES.get(status, "computeFault")
        return {name: {"code": status, "message": message, **(extra or {})}}
    if family == IMAGE:
        # webob's JSON error formatter, which Glance v2 uses.
        return {
            "code": f"{status} {phrase(status)}",
            "title": phrase(status),
            "message": message,
            **(extra or {}),
        }
    return {"error": {"code": status, "title": phrase(status), "message": message, **(extra or {})}}
