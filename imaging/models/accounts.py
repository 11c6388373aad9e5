"""Portal users who sign in with an account kept elsewhere (their K5 user, the company's single
sign-on), and the attempts the K5 sign-in guard counts."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AccountSource(models.TextChoices):
    K5 = "k5", "K5 account"
    OIDC = "oidc", "Single sign-on"


class ExternalAccount(models.Model):
    """Marks a portal user as someone else's account: it has no usable local password, and its
    memberships are replaced from the source at each sign-in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_account"
    )
    source = models.CharField(max_length=10, choices=AccountSource.choices)
    # K5: "<contract>/<user name>" as K5 spells them; single sign-on: "<issuer> <subject>".
    key = models.CharField(max_length=512)
    # K5's user id, or the single sign-on subject.
    external_id = models.CharField(max_length=255, blank=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="one_portal_user_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.key}"


class SignInOutcome(models.TextChoices):
    PENDING = "pending", "Asking K5"
    FAILED = "failed", "K5 refused, or may have counted a failure"
    SUCCEEDED = "succeeded", "K5 accepted the password"
    NOT_SENT = "not_sent", "K5 could not be asked"
    REFUSED = "refused", "Refused by the portal before asking K5"


class K5SignInAttempt(models.Model):
    """One K5 sign-in attempt, for the guard (imaging.signin.guard). A table, not process
    memory: every web process must see the same count."""

    # "<contract>/<user name>", case-folded: one K5 user however it is typed.
    account = models.CharField(max_length=512)
    address = models.GenericIPAddressField(null=True, blank=True)
    started_at = models.DateTimeField()
    outcome = models.CharField(
        max_length=10, choices=SignInOutcome.choices, default=SignInOutcome.PENDING
    )

    class Meta:
        indexes = [models.Index(fields=["account", "started_at"])]

    def __str__(self) -> str:
        return f"{self.account} at {self.started_at:%Y-%m-%d %H:%M:%S}: {self.outcome}"
