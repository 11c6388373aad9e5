from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.throttling import SimpleRateThrottle

from imaging.access import signed_in_elsewhere_without_access
from imaging.models import ApiToken
from portal import signin
from portal.addresses import client_address


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
        wait = signin.token_lockout_seconds(address)
        if wait:
            raise TooManyBadTokens(wait)
        try:
            token = self._usable_token(header)
        except exceptions.AuthenticationFailed:
            signin.count_bad_token(address, request.path)
            raise
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

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
