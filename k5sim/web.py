"""What a service handler sees and returns: `Route`, `Call`, `Reply`, plus request parsing helpers.

Handlers are plain functions `handler(call) -> Reply`, run with the world lock held and the
world caught up to "now". They raise `ApiError` for error answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class Route:
    """`template` is the path with `{name}` placeholders; it is also the request-log key."""

    method: str
    template: str
    handler: Callable[[Call], Reply]
    family: str
    auth: bool = True

    def __post_init__(self) -> None:
        pattern = _PARAM.sub(
            lambda m: f"(?P<{m.group(1)}>[^/]+)",
            re.escape(self.template).replace(r"\{", "{").replace(r"\}", "}"),
        )
        self.regex = re.compile(pattern.rstrip("/") or "/")


@dataclass(eq=False)
class Call:
    """One request as a handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any  # email.message.Message: case-insensitive .get()
    body: bytes
    base_url: str  # http://host:port, as the client addressed us
    request_id: str
    world: Any = None
    app: Any = None
    params: dict[str, str] = field(default_factory=dict)
    token: Any = None
    project_id: str | None = None  # for the request log
    # For the request log, on POST /auth/tokens: whose credential was presented and how
    # ("password" or "token"), so tests can count the passwords a client really sent.
    user_id: str | None = None
    auth_method: str | None = None
    received_at: float = 0.0  # sim time the request arrived, for the request log
    generation: int = 0  # the request log's generation when it arrived (see RequestLog)
    query_string: str = ""  # as sent, for the request log

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self, message: str = "Malformed request body") -> Any:
        if not self.body.strip():
            raise ApiError(400, message)
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, message) from None

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def int_arg(
    call: Call, name: str, default: int | None, *, message: str | None = None
) -> int | None:
    """A non-negative integer query parameter (400 otherwise)."""
    text = call.arg(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, message or f"{name} param must be an integer") from None
    if value < 0:
        raise ApiError(400, message or f"{name} param must be positive")
    return value
