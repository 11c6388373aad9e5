"""Sign-in protection: whoever guesses passwords or API tokens is locked out for a while.

One policy for every door (settings AXES_FAILURE_LIMIT, default 5, and AXES_COOLOFF_TIME, from
AXES_COOLOFF_MINUTES, default 15):
- the portal's and the admin's sign-in forms, through django-axes: a user name with that many
  failed sign-ins, from any address, and an address with that many, for any user, are locked
  for the cool-off; the right password is refused too while it lasts. Axes keeps the attempts
  (admin: "Access attempts", "Access failure logs"); an operator unlocks early by deleting the
  attempt there, or with `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS`.
- the API's tokens (imaging.api.auth): an address that sent that many bad tokens within the
  cool-off gets 429 with Retry-After for every token, good ones too, until it has passed.
  Counted in the cache (the database or Redis: every process sees the same count), apart from
  the sign-in forms' attempts, so that a tool with a stale token does not lock people out of
  the sign-in page (nor the reverse).

Every failure and every lock-out is logged as a WARNING on the logger `portal.signin`.
"""

from __future__ import annotations

import logging
import math
import time

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.db.models import Max, Q
from django.shortcuts import render
from django.utils import timezone

from portal.addresses import client_address

log = logging.getLogger("portal.signin")


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


class SignInBackend(AxesStandaloneBackend):
    """Axes' check before the password is: a locked user or address is refused whatever the
    password. A sign-in without a request (a management command, a shell) comes from no
    address and guesses nothing from the network: it is not counted."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def locked_out(request, original_response=None, credentials=None):
    """The sign-in page (portal or admin) saying that signing in is locked, and for how long:
    429 with Retry-After."""
    seconds = lock_remaining_seconds(request, credentials)
    response = render(
        request,
        "registration/login.html",
        {
            "form": AuthenticationForm(request),
            "locked_out": True,
            "cooloff_minutes": math.ceil(seconds / 60),
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


def lock_remaining_seconds(request, credentials=None) -> int:
    """Until the lock ends: a cool-off after the last failure counted against this user name or
    this address (an upper bound when both have failures; attempts while locked are not
    counted, so they do not move it)."""
    username = get_client_username(request, credentials)
    address = getattr(request, "axes_ip_address", None) or client_address(request)
    last = AccessAttempt.objects.filter(Q(username=username) | Q(ip_address=address)).aggregate(
        last=Max("attempt_time")
    )["last"]
    if last is None:
        return cooloff_seconds()
    remaining = (last + settings.AXES_COOLOFF_TIME - timezone.now()).total_seconds()
    return max(1, math.ceil(remaining))


def log_failed_sign_in(sender, credentials, request=None, **kwargs) -> None:
    log.warning(
        "sign-in failed: user=%r address=%s path=%s",
        (credentials or {}).get("username"),
        client_address(request) if request is not None else "-",
        request.path if request is not None else "-",
    )


def log_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    """Sent when the limit is reached, and again for each attempt refused while locked."""
    log.warning(
        "sign-in locked out: user=%r address=%s path=%s (%d failures within %d minutes; "
        "locked for %d minutes)",
        username,
        ip_address,
        request.path if request is not None else "-",
        settings.AXES_FAILURE_LIMIT,
        math.ceil(cooloff_seconds() / 60),
        math.ceil(cooloff_seconds() / 60),
    )


def connect_logging() -> None:
    user_login_failed.connect(log_failed_sign_in, dispatch_uid="portal.signin.failed")
    user_locked_out.connect(log_locked_out, dispatch_uid="portal.signin.locked")


# --- API tokens -------------------------------------------------------------------------------


def _token_key(kind: str, address: str | None) -> str:
    return f"signin:token-{kind}:{address or 'unknown'}"


def token_lockout_seconds(address: str | None) -> int:
    """How long tokens from this address are still refused: 0 when they are not."""
    until = cache.get(_token_key("locked", address))
    remaining = (until or 0) - time.time()
    return math.ceil(remaining) if remaining > 0 else 0


def count_bad_token(address: str | None, path: str) -> None:
    """One more bad token from this address; at the limit, lock the address for the cool-off.
    The count runs for a cool-off from the first bad token it holds. It is read, then written:
    requests racing from one address can each count once for several (tokens are 256 random
    bits; the lock is against floods and scans, and every bad token is logged)."""
    window = cooloff_seconds()
    failures_key = _token_key("failures", address)
    now = time.time()
    failures, window_ends = cache.get(failures_key) or (0, now + window)
    failures += 1
    log.warning(
        "API token refused: address=%s path=%s (%d of %d)",
        address,
        path,
        failures,
        settings.AXES_FAILURE_LIMIT,
    )
    if failures < settings.AXES_FAILURE_LIMIT:
        cache.set(failures_key, (failures, window_ends), max(1, math.ceil(window_ends - now)))
        return
    cache.set(_token_key("locked", address), now + window, window)
    cache.delete(failures_key)
    log.warning(
        "API tokens locked out: address=%s path=%s (%d bad tokens; locked for %d minutes)",
        address,
        path,
        failures,
        math.ceil(window / 60),
    )
