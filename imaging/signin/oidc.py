"""Company single sign-on: OpenID Connect (authorization code with PKCE) through
mozilla-django-oidc, on when OIDC_ISSUER is set.

The provider's endpoints come from its discovery document (OIDC_ISSUER +
/.well-known/openid-configuration), fetched when someone signs in and kept for an hour. The
id_token must be RS256-signed by a key of the provider's JWKS, and name OIDC_ISSUER as its
issuer and the portal's client id as its audience (the library checks neither by itself).
The claim OIDC_GROUP_CLAIM (default `groups`) gives project memberships through
OIDC_GROUP_MAP (group=project:role), replaced at each sign-in like the K5 ones.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from imaging.access import memberships_in_force
from imaging.models import AccountSource, ExternalAccount, K5Project, MembershipSource
from imaging.signin.memberships import Grant, highest, replace_memberships

log = logging.getLogger("imaging.signin")

DISCOVERY_SECONDS = 3600
_discovered: dict[str, tuple[float, dict]] = {}
_discovery_lock = threading.Lock()


class ProviderUnavailable(Exception):
    pass


def provider() -> dict:
    """The provider's discovery document (authorization, token, userinfo and JWKS URLs)."""
    issuer = settings.OIDC_ISSUER
    with _discovery_lock:
        cached = _discovered.get(issuer)
        if cached and cached[0] > time.monotonic():
            return cached[1]
    try:
        response = requests.get(
            f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT
        )
        response.raise_for_status()
        document = response.json()
        endpoints = {key: document[key] for key in ("authorization_endpoint", "token_endpoint")}
        endpoints["jwks_uri"] = document["jwks_uri"]
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise ProviderUnavailable(f"cannot read the provider's discovery document: {exc}") from None
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise ProviderUnavailable(
            f"the discovery document names another issuer: {document.get('issuer')!r}"
        )
    endpoints["userinfo_endpoint"] = document.get("userinfo_endpoint")
    with _discovery_lock:
        _discovered[issuer] = (time.monotonic() + DISCOVERY_SECONDS, endpoints)
    return endpoints


def forget_provider() -> None:
    with _discovery_lock:
        _discovered.clear()


def _back_to_sign_in(request, message: str) -> HttpResponseRedirect:
    messages.error(request, message)
    return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL_FAILURE)


class StartSignIn(OIDCAuthenticationRequestView):
    """Sends the browser to the provider."""

    def __init__(self, *args, **kwargs):
        View.__init__(self, *args, **kwargs)  # the endpoints are read per request, below

    def get(self, request):
        if not settings.OIDC_ISSUER:
            raise Http404
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider()["authorization_endpoint"]
        except ProviderUnavailable as exc:
            log.warning("single sign-on unavailable: %s", exc)
            return _back_to_sign_in(
                request, _("The company single sign-on cannot be reached just now.")
            )
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class FinishSignIn(OIDCAuthenticationCallbackView):
    """Where the provider sends the browser back with a code."""

    def get(self, request):
        if not settings.OIDC_ISSUER:
            raise Http404
        return super().get(request)

    def login_failure(self):
        reason = getattr(self.request, "sso_refusal", None)
        return _back_to_sign_in(self.request, reason or _("Single sign-on did not sign you in."))

    def login_success(self):
        if not memberships_in_force(self.user).exists():
            return _back_to_sign_in(
                self.request,
                _(
                    "Single sign-on signed you in, but none of your groups gives you a role in "
                    "a project of this portal. Ask an operator."
                ),
            )
        response = super().login_success()
        self.request.session.set_expiry(int(settings.OIDC_LOGIN_MAX_AGE.total_seconds()) or None)
        return response


class SingleSignOnBackend(OIDCAuthenticationBackend):
    """Answers only the callback's code, when OIDC_ISSUER is set; creates the portal user of a
    (issuer, subject) on first sign-in and replaces its memberships from its groups."""

    def __init__(self, *args, **kwargs):
        # Endpoints are discovered when a sign-in needs them, not for every authenticate()
        # call of every backend (the library's __init__ would require them as settings).
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request, **kwargs):
        if not settings.OIDC_ISSUER or request is None or "nonce" not in kwargs:
            return None
        try:
            endpoints = provider()
            self.OIDC_OP_TOKEN_ENDPOINT = endpoints["token_endpoint"]
            self.OIDC_OP_USER_ENDPOINT = endpoints["userinfo_endpoint"]
            self.OIDC_OP_JWKS_ENDPOINT = endpoints["jwks_uri"]
            return super().authenticate(request, **kwargs)
        except (ProviderUnavailable, requests.RequestException, SuspiciousOperation) as exc:
            log.warning("single sign-on failed: %s", exc)
            request.sso_refusal = _("Single sign-on did not sign you in: %(reason)s") % {
                "reason": str(exc)[:200]
            }
            return None

    def get_user(self, user_id):
        """The signed-in user of a session this backend started, while still active: the
        library's own answers a disabled user too, whose session would then outlive the
        operator's decision (the local and K5 backends refuse them)."""
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if str(payload.get("iss", "")).rstrip("/") != settings.OIDC_ISSUER:
            raise SuspiciousOperation("the id_token comes from another issuer")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the id_token is meant for another client")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            more = super().get_userinfo(access_token, id_token, payload)
            if more.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("userinfo describes another subject")
            claims.update(more)
        return claims

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        key = _account_key(claims)
        return self.UserModel.objects.filter(
            external_account__source=AccountSource.OIDC, external_account__key=key
        )

    @transaction.atomic
    def create_user(self, claims):
        wanted = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
        username = f"sso/{wanted}"[:150]
        if self.UserModel.objects.filter(username=username).exists():
            username = f"sso/{claims['sub']}"[:150]
        user = self.UserModel.objects.create_user(username, email=claims.get("email") or "")
        ExternalAccount.objects.create(
            user=user,
            source=AccountSource.OIDC,
            key=_account_key(claims),
            external_id=claims["sub"],
        )
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        ExternalAccount.objects.filter(user=user).update(last_sign_in_at=timezone.now())
        if claims.get("email") and claims["email"] != user.email:
            user.email = claims["email"]
            user.save(update_fields=["email"])
        groups = claims.get(settings.OIDC_GROUP_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        replace_memberships(user, MembershipSource.OIDC, grants_for(groups))
        return user


def _account_key(claims) -> str:
    return f"{settings.OIDC_ISSUER} {claims['sub']}"


def grants_for(groups) -> list[Grant]:
    """Memberships the groups give through OIDC_GROUP_MAP (the highest role per project)."""
    wanted: dict[str, dict[str, list[str]]] = {}
    for group in groups:
        for project_name, role in settings.OIDC_GROUP_MAP.get(str(group), []):
            wanted.setdefault(project_name, {}).setdefault(role, []).append(str(group))
    projects = {p.name: p for p in K5Project.objects.filter(name__in=wanted)}
    for missing in sorted(set(wanted) - set(projects)):
        log.warning("OIDC_GROUP_MAP names %r, which is no registered project", missing)
    grants = []
    for name, roles in sorted(wanted.items()):
        if name in projects:
            best = highest(roles)
            assert best is not None
            grants.append(Grant(projects[name], best, tuple(sorted(roles[best]))))
    return grants
