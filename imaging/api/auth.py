from __future__ import annotations

import logging

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from imaging.access import signed_in_elsewhere_without_access
from imaging.api.unavailable import Unavailable
from imaging.models import ApiToken
from portal import outage, signin
from portal.addresses import client_address

log = logging.getLogger("portal.signin")

LOCKOUT_UNREADABLE = (
    "API tokens cannot be checked right now; nothing was done. Try again in a minute, "
    "with a valid token."
)


class TooManyBadTokens(exceptions.Throttled):
    """429 with Retry-After: too many bad tokens came from this address."""

    default_detail = "Too many invalid API tokens came from your address."
    extra_detail_singular = "Every token from it is refused for {wait} more second."
    extra_detail_plural = "Every token from it is refused for {wait} more seconds."
    default_code = "locked_out"


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` with a per-user token (stored hashed)."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        # An address that sent too many bad tokens is refused whatever the token: else a guess
        # that hits would still get in (portal/signin.py).
        address = client_address(request)
        try:
            wait = signin.token_lockout_seconds(address)
        except outage.UNAVAILABLE_ERRORS as exc:
            # The lockout cannot be read (the cache is down). A usable token is no guess: it
            # gets in (fail open). Any other could be one, and could not be counted: refused
            # (fail closed) with 503 `unavailable`, so that a client retries later.
            return self._without_lockout(request, header, address, exc)
        if wait:
            raise TooManyBadTokens(wait)
        try:
            token = self._usable_token(header)
        except exceptions.AuthenticationFailed:
            try:
                signin.count_bad_token(address, request.path)
            except outage.UNAVAILABLE_ERRORS as exc:
                raise self._uncounted(request, address, exc) from None
            raise
        return self._signed_in(token)

    def _without_lockout(self, request, header: list[bytes], address: str | None, exc):
        try:
            token = self._usable_token(header)
        except exceptions.AuthenticationFailed:
            raise self._uncounted(request, address, exc) from None
        log.warning(
            "API token accepted without the lockout check (%s: the cache is unreachable): "
            "address=%s path=%s",
            type(exc).__name__,
            address,
            request.path,
        )
        return self._signed_in(token)

    def _uncounted(self, request, address: str | None, exc) -> Unavailable:
        log.warning(
            "API token refused uncounted (%s: the cache is unreachable): address=%s path=%s",
            type(exc).__name__,
            address,
            request.path,
        )
        return Unavailable(LOCKOUT_UNREADABLE)

    def _signed_in(self, token: ApiToken):
        if signed_in_elsewhere_without_access(token.user):
            # A real token of a K5 or single sign-on account whose memberships have lapsed:
            # refused, but no guess, so not counted against the address.
            raise exceptions.AuthenticationFailed(
                "The memberships of this token's account have lapsed: sign in to the portal "
                "with it again to renew them."
            )
        token.touch()
        return token.user, token

    def _usable_token(self, header: list[bytes]) -> ApiToken:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Token <key>', with no spaces in the key."
            )
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "The token contains invalid characters."
            ) from None
        token = ApiToken.authenticate(key)
        if token is None or not token.usable:
            raise exceptions.AuthenticationFailed("Invalid, disabled or expired API token.")
        return token

    def authenticate_header(self, request):
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "imaging.api.auth.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: create a key on your profile page or with "
            "`manage.py apitoken create USERNAME`.",
        }


class PerTokenThrottle(SimpleRateThrottle):
    """Rate per API token (per user for browser sessions, per address when anonymous)."""

    scope = "api"

    def allow_request(self, request, view):
        """The count lives in the cache. Unreachable, an authenticated request goes on
        uncounted (fail open: the pages, which do the same things, have no throttle either);
        an anonymous one is refused with 503 (fail closed)."""
        try:
            return super().allow_request(request, view)
        except outage.UNAVAILABLE_ERRORS as exc:
            if request.user and request.user.is_authenticated:
                log.warning(
                    "API throttle not applied (%s: the cache is unreachable): path=%s",
                    type(exc).__name__,
                    request.path,
                )
                return True
            raise  # anonymous: 503 `unavailable` (imaging.api.errors)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
