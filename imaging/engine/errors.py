"""The engine's one error contract with the pages, the API and the commands above it.

Above the engine nobody catches the K5 facade's exceptions (`imaging.k5`): the engine turns
them into a `Refusal` — a rule not met, in words a project member understands — of which
`K5NotAvailable` is the kind that says K5 cannot be asked right now.

A refusal's message is a lazy translation (`gettext_lazy`, `interpolate_lazy`) written beside
its rule, not a code of imaging/messages.py: the refusal's `code` is already the stable name
tools match on, and one message per rule would double the registry. What must be read after
the request (a batch's refused volumes, a schedule's skipped ones) stores `Refusal.meaning`:
the msgid and parameters, verified at storage to render the same text again in every
language (else the text in each language; K5's words as they are), and renders it with
`imaging.messages.render_text` in the reader's language.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.functional import Promise, lazy
from django.utils.translation import override

from imaging.messages import render_text


def _interpolate(message, params: dict) -> str:
    return str(message) % params


_interpolated = lazy(_interpolate, str)


def interpolate_lazy(message, params: dict):
    """`_("… %(name)s …") % params`, but put together only when shown, in the reader's
    language. The result remembers its template and parameters, so that it can be stored as
    its msgid and parameters (`meaning_of`)."""
    text = _interpolated(message, params)
    setattr(text, _MADE_OF, (message, params))  # a field its lazy proxy class does not declare
    return text


_MADE_OF = "interpolated_from"


def english(text: str | Promise) -> str:
    """A (lazy) translatable text in English: for the API, the audit log and logs."""
    with override("en"):
        return str(text)


def meaning_of(text: str | Promise) -> dict[str, Any]:
    """How a refusal's text is stored to be read later in its reader's language (the forms are
    described in imaging/messages.py, `render_text`): its gettext msgid and parameters when
    those render it again exactly, in every language the portal speaks; else the text in each
    of them; a plain string (K5's words) as a literal."""
    if not isinstance(text, Promise):
        return {"text": str(text)}
    template, params = getattr(text, _MADE_OF, (text, {}))
    with override(None):  # no catalog: a gettext_lazy gives its msgid
        msgid = str(template)
    stored = {
        "msgid": msgid,
        "params": {
            key: meaning_of(value) if isinstance(value, Promise) else value
            for key, value in params.items()
        },
    }
    texts = {}
    for language, _name in settings.LANGUAGES:
        with override(language):
            texts[language] = str(text)
        if render_text(stored, language) != texts[language]:
            stored = {}
    return stored or {"texts": texts}


class Refusal(Exception):
    """A rule was not met, or the engine cannot act now.

    `code` is stable for tools: conflicts (`volume_busy`, `image_name_taken`,
    `idempotency_conflict`, `not_allowed`, `batch_refused`) map to HTTP 409, `not_found` to
    404, `forbidden` to 403, `k5_unavailable` to 503, the rest to 400.

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

    @property
    def meaning(self) -> dict[str, Any]:
        """The message as stored for a later reader (`meaning_of`)."""
        return meaning_of(self.localized_message)


# `batch_refused`: the volumes' state (not the request's form) left nothing to queue.
CONFLICT_CODES = frozenset(
    {"volume_busy", "image_name_taken", "idempotency_conflict", "not_allowed", "batch_refused"}
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
