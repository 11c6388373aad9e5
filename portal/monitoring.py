"""The monitoring token: what lets a scraper read /metrics and the details of /readyz.

METRICS_TOKEN unset: /metrics answers 404 (it is not there for anyone) and /readyz gives only
the names of its parts. The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest


def has_monitoring_token(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:
        return False
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())
