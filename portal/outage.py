"""When Redis — the cache or the task broker — does not answer: 503 with Retry-After, not 500.

Redis holds nothing a request cannot do without for a while: the API's throttle and token
lockout counts (imaging/api/auth.py decides which requests go on without them) and queued
tasks (imaging/dispatch.py keeps them in the database until the broker takes them). Whatever
still reaches an unreachable Redis answers here: a page saying to try again shortly, naming no
host, port or exception — those go to the log, for operators. The API answers in its own JSON
(imaging.api.errors.Unavailable).
"""

from __future__ import annotations

import logging

import redis
from django.shortcuts import render

logger = logging.getLogger(__name__)

# What redis-py raises when the server cannot be reached or does not answer in time
# (BusyLoadingError, a server still loading its data, is a ConnectionError).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# Long enough for a restarted Redis to come back, short enough that nobody waits for nothing.
RETRY_AFTER_SECONDS = 30
API_PREFIX = "/api/"


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, UNAVAILABLE_ERRORS)


def log_outage(exc: BaseException, path: str) -> None:
    """One WARNING without a traceback: the cause is outside the portal, and /readyz names it."""
    logger.warning(
        "Redis unavailable, answered 503: path=%s (%s: %s)", path, type(exc).__name__, exc
    )


class OutageMiddleware:
    """Pages: an unreachable Redis is the 503 page. Under /api/ the API's exception handler
    answers first, in JSON; this stays out of its way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_outage(exception) or request.path.startswith(API_PREFIX):
            return None
        log_outage(exception, request.path)
        response = render(request, "unavailable.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response._has_been_logged = True  # type: ignore[attr-defined] # logged above, once
        return response
