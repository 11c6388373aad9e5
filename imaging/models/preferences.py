"""What each person reads the portal in: a language and a time zone, saved once and used by
the pages, the API (after the request's Accept-Language), the exports and the e-mails."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Preference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    language = models.CharField(_("Language"), max_length=8, choices=settings.LANGUAGES)
    time_zone = models.CharField(_("Time zone"), max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}, {self.time_zone}"

    @classmethod
    def saved(cls, user) -> Preference | None:
        if user is None or not user.is_authenticated:
            return None
        try:
            return user.preference
        except cls.DoesNotExist:
            return None

    @classmethod
    def language_of(cls, user) -> str:
        """The language to write to this person in (an e-mail), without a request."""
        saved = cls.saved(user)
        return saved.language if saved else settings.LANGUAGE_CODE

    @classmethod
    def zone_of(cls, user) -> zoneinfo.ZoneInfo:
        saved = cls.saved(user)
        return zoneinfo.ZoneInfo(saved.time_zone if saved else settings.TIME_ZONE)

    @classmethod
    def save_language(cls, user, language: str) -> None:
        """The header's language switch: remembered for the person, not only the browser."""
        cls.objects.update_or_create(
            user=user,
            defaults={"language": language},
            create_defaults={"language": language, "time_zone": settings.TIME_ZONE},
        )


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]
