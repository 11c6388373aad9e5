"""Per-user API tokens: stored hashed, shown once, optional expiry, can be disabled."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX_LENGTH = 8
# last_used is written at most this often: a busy tool must not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    # The first characters of the key, kept in clear to find the row and to show the user
    # which token is which; the rest is only ever stored as a SHA-256 digest.
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True)
    digest = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}) of {self.user}"

    @classmethod
    def issue(cls, user, name: str, *, days: int | None = None) -> tuple[ApiToken, str]:
        """Create a token; returns it with its key, which is never available again."""
        while True:
            key = secrets.token_urlsafe(32)
            prefix = key[:PREFIX_LENGTH]
            # A key (and so its prefix) starting with "-" reads as an option on a command line:
            # `apitoken disable -Xy…` would be refused. One in 64 keys would; draw again.
            if key.startswith("-"):
                continue
            if not cls.objects.filter(prefix=prefix).exists():
                break
        expires = timezone.now() + timedelta(days=days) if days else None
        token = cls.objects.create(
            user=user, name=name, prefix=prefix, digest=_digest(key), expires_at=expires
        )
        return token, key

    @classmethod
    def authenticate(cls, key: str) -> ApiToken | None:
        token = (
            cls.objects.select_related("user", "user__external_account")
            .filter(prefix=key[:PREFIX_LENGTH])
            .first()
        )
        if token is None or not secrets.compare_digest(token.digest, _digest(key)):
            return None
        return token

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def usable(self) -> bool:
        return self.enabled and not self.expired and self.user.is_active

    def touch(self) -> None:
        now = timezone.now()
        if self.last_used is None or now - self.last_used >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=self.pk).update(last_used=now)
            self.last_used = now
