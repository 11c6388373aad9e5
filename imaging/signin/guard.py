"""The K5 sign-in guard: the portal stops asking K5 for a user before K5 would lock them.

K5 locks a user for 15 minutes after 5 wrong passwords within 15 minutes, and the lock hits the
person everywhere (Horizon, their tools, the CLI), not just here. So after
K5_LOGIN_GUARD_FAILURES (3) failures for one contract/user within K5_LOGIN_GUARD_WINDOW
(15 minutes) — from any address, through any web process — the portal refuses further
attempts itself, before the password leaves, until the oldest of them is 15 minutes old.

Attempts are rows (K5SignInAttempt), not process memory, so that every web process and host
counts the same. An attempt is written *before* K5 is asked and counted meanwhile as a
possible failure: two simultaneous attempts can then both be refused, never both sent past
the limit. A success does not clear earlier failures (K5 may not reset its own count either).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from imaging.models import K5SignInAttempt, SignInOutcome

COUNTED = (SignInOutcome.PENDING, SignInOutcome.FAILED)


class TooManyFailures(Exception):
    """Refused before asking K5: `failures` recent failures; allowed again from `until`."""

    def __init__(self, failures: int, until: datetime):
        super().__init__(f"{failures} failed K5 sign-ins; allowed again at {until:%H:%M:%S}")
        self.failures = failures
        self.until = until


def account_key(contract: str, username: str) -> str:
    """One K5 user however it is typed."""
    return f"{contract.strip()}/{username.strip()}".casefold()


def begin(contract: str, username: str, address: str | None) -> K5SignInAttempt:
    """Record an attempt about to ask K5, or raise TooManyFailures without asking."""
    key = account_key(contract, username)
    now = timezone.now()
    attempt = K5SignInAttempt.objects.create(account=key, address=address, started_at=now)
    earlier = sorted(
        K5SignInAttempt.objects.filter(
            account=key,
            started_at__gt=now - settings.K5_LOGIN_GUARD_WINDOW,
            outcome__in=COUNTED,
        )
        .exclude(pk=attempt.pk)
        .values_list("started_at", flat=True)
    )
    limit = settings.K5_LOGIN_GUARD_FAILURES
    if len(earlier) >= limit:
        finish(attempt, SignInOutcome.REFUSED)
        # Allowed again once all but limit-1 of them have left the window.
        until = earlier[len(earlier) - limit] + settings.K5_LOGIN_GUARD_WINDOW
        raise TooManyFailures(failures=len(earlier), until=until)
    return attempt


def finish(attempt: K5SignInAttempt, outcome: str) -> None:
    K5SignInAttempt.objects.filter(pk=attempt.pk).update(outcome=outcome)


def attempts_left(contract: str, username: str) -> int:
    """How many more K5 sign-ins the guard allows now."""
    key = account_key(contract, username)
    since = timezone.now() - settings.K5_LOGIN_GUARD_WINDOW
    counted = K5SignInAttempt.objects.filter(
        account=key, started_at__gt=since, outcome__in=COUNTED
    ).count()
    return max(0, settings.K5_LOGIN_GUARD_FAILURES - counted)
