"""Structured logs: one line per event, with what it belongs to.

Every line carries, when known, the web request's id (`request_id`), the job being worked on
(`job_id`), the K5 project (`project`) and the id K5 gave its last answer (`k5_request_id`) —
so a user's complaint, an engine step and a K5 support ticket can be joined. The values live in
context variables, set by RequestIdMiddleware for a request and by `log_context()` around engine
work, and a logging filter copies them onto every record. LOG_FORMAT=json writes one JSON object
per line; the default is readable text.

Named `logs`, not `logging`, so that no import of the standard module can pick it up instead.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from django.utils.functional import SimpleLazyObject

FIELDS = ("request_id", "job_id", "project", "k5_request_id")
_vars: dict[str, ContextVar] = {name: ContextVar(f"log_{name}", default=None) for name in FIELDS}

# An incoming X-Request-ID is kept when it looks like an id (a proxy's or a client's): short,
# and nothing that could forge a log line or a header.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

request_logger = logging.getLogger("portal.request")


def current(name: str):
    return _vars[name].get()


@contextmanager
def log_context(**fields) -> Iterator[None]:
    """Tag every line logged inside the block with `fields` (job_id=…, project=…).

    The K5 request id starts empty in the block and is restored after it, so that one job's
    K5 answer is never printed on the next job's lines.
    """
    fields.setdefault("k5_request_id", None)
    tokens = [(_vars[name], _vars[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def note_k5_request(request_id: str | None) -> None:
    """Called for each K5 answer: later lines of the same work carry its request id.

    Only inside a unit of work (a web request, a project's tick, a job): outside one nothing
    would ever clear it, and a worker process would print it on the lines of later tasks.
    """
    if request_id and any(_vars[name].get() is not None for name in FIELDS[:3]):
        _vars["k5_request_id"].set(request_id)


class ContextFilter(logging.Filter):
    """Copies the context onto each record (a value passed in `extra` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, _vars[name].get())
        return True


# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context, plain extras.

    Extras that are not plain values (Django puts the whole request object in `extra`) are
    left out: their text could hold a query string or a header.
    """

    def format(self, record: logging.LogRecord) -> str:
        line: dict = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name in _STANDARD or name.startswith("_") or value is None:
                continue
            if isinstance(value, str | int | float | bool):
                line[name] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message [request_id=… job_id=…]` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        tags = [f"{n}={getattr(record, n)}" for n in FIELDS if getattr(record, n, None) is not None]
        return f"{text} [{' '.join(tags)}]" if tags else text


class RequestIdMiddleware:
    """Gives each request an id (a sane incoming X-Request-ID, else a new one), tags its log
    lines with it, returns it in the X-Request-ID header, and logs one line per request."""

    def __init__(self, get_response: Callable):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        began = time.monotonic()
        # A worker thread serves one request after another: every field starts empty.
        with log_context(request_id=request_id, job_id=None, project=None):
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            request_logger.log(
                logging.DEBUG if request.path in QUIET_PATHS else logging.INFO,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - began) * 1000, 1),
                    "user_id": _user_id(request),
                },
            )
        return response


def _user_id(request) -> int | None:
    """The user's id when authentication already ran (a session read, or DRF's token check);
    never a query of its own just to write the log line."""
    user = getattr(request, "_cached_user", None)
    if user is None:
        user = request.__dict__.get("user")
        if isinstance(user, SimpleLazyObject):
            return None
    return user.pk if user is not None and user.is_authenticated else None
