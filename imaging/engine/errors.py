"""The engine's one error contract with the pages, the API and the commands above it.

Above the engine nobody catches the K5 facade's exceptions (`imaging.k5`): the engine turns
them into a `Refusal` — a rule not met, in words a project member understands — of which
`K5NotAvailable` is the kind that says K5 cannot be asked right now.
"""

from __future__ import annotations

from django.utils.functional import Promise, lazy
from django.utils.translation import override


def _interpolate(message, params: dict) -> str:
    return str(message) % params


# `_("… %(name)s …") % params`, but put together only when shown, in the reader's language.
interpolate_lazy = lazy(_interpolate, str)


def english(text: str | Promise) -> str:
    """A (lazy) translatable text in English: for the API, the audit log and logs."""
    with override("en"):
        return str(text)


class Refusal(Exception):
    """A rule was not met, or the engine cannot act now.

    `code` is stable for tools: conflicts (`volume_busy`, `image_name_taken`,
    `idempotency_conflict`, `not_allowed`) map to HTTP 409, `not_found` to 404, `forbidden` to
    403, `k5_unavailable` to 503, the rest to 400.

    `message` is English whatever the request's language (the API and logs give it);
    `localized_message` is the same text in the reader's language, for the web pages.
    """

    def __init__(self, code: str, message: str | Promise, *, field: str | None = None):
        english_message = english(message)
        super().__init__(english_message)
        self.code = code
        self.message = english_message
        self.localized_message = message
        self.field = field


CONFLICT_CODES = frozenset(
    {"volume_busy", "image_name_taken", "idempotency_conflict", "not_allowed"}
)


class K5NotAvailable(Refusal):
    """K5 cannot be asked now: it did not answer (in time), or the project's credential is
    known to be wrong. Nothing was changed; trying again later may work."""

    def __init__(self, message: str | Promise, *, retry_after: int | None = None):
        super().__init__("k5_unavailable", message)
        self.retry_after = retry_after


class CredentialsInvalid(K5NotAvailable):
    """K5 rejected the project's credential earlier; nothing is sent until it is changed (K5
    locks the user after 5 wrong passwords in 15 minutes)."""
