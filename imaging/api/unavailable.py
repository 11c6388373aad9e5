"""The API's 503 `unavailable`, apart from imaging.api.errors: authentication raises it, and
errors.py imports DRF's views, which import the authentication classes."""

from __future__ import annotations

from rest_framework import exceptions, status

from portal import outage


class Unavailable(exceptions.APIException):
    """503 `unavailable` with Retry-After: something the request needs (the cache, the
    broker) does not answer. It names nothing internal; the log has the cause."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"
    default_detail = "The portal cannot answer this request right now; try again in a minute."

    def __init__(self, detail: str | None = None):
        super().__init__(detail)
        self.wait = outage.RETRY_AFTER_SECONDS  # DRF's handler turns it into Retry-After
