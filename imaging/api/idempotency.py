"""The Idempotency-Key header of the API's creating calls (a job, a batch): a tool that sends
its request again after a timeout gets what the first request made, not a second one."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

MAX_IDEMPOTENCY_KEY = 255  # ImageJob.idempotency_key, Batch.idempotency_key

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
    OpenApiParameter.HEADER,
    description="replaying the same key and body returns what the first request made (200); "
    "another body with it is 409 `idempotency_conflict`",
)


def idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        # Cut short, two different keys could meet: one request answered as another.
        raise ValidationError(
            {"Idempotency-Key": [f"At most {MAX_IDEMPOTENCY_KEY} characters (it has {len(key)})."]}
        )
    return key
