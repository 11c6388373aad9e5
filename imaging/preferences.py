"""Each person's language and time zone, applied to what they read.

Pages: the language the browser chose with the header's switch (its cookie), else the saved
one, else the browser's Accept-Language (Django's LocaleMiddleware); times in the saved zone.
The API: the request's Accept-Language, else the saved language (for the portal's messages
about jobs; the rest of the API speaks English, imaging/api/views.py); times ISO 8601 with
their offset.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation.trans_real import (
    get_supported_language_variant,
    parse_accept_lang_header,
)
from django.views.i18n import set_language as django_set_language

from imaging.models import Preference


class PreferencesMiddleware:
    """After authentication: the signed-in person's time zone, and their language unless this
    browser picked one with the header's switch."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        saved = Preference.saved(getattr(request, "user", None))
        if saved is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(zoneinfo.ZoneInfo(saved.time_zone))
        previous = translation.get_language()
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            translation.activate(saved.language)
            request.LANGUAGE_CODE = saved.language
        try:
            return self.get_response(request)
        finally:
            # Nothing of this person's outlives their request in the thread.
            timezone.deactivate()
            translation.activate(previous)


def header_language(request) -> str | None:
    """The supported language the request's Accept-Language prefers, if it names one."""
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            continue
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return None


def api_reader_language(request) -> str:
    saved = Preference.saved(getattr(request, "user", None))
    return header_language(request) or (saved.language if saved else settings.LANGUAGE_CODE)


def set_language(request):
    """The header's language switch (Django's view), remembered for the signed-in person."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if (
        request.method == "POST"
        and request.user.is_authenticated
        and language in dict(settings.LANGUAGES)
    ):
        Preference.save_language(request.user, language)
    return response
