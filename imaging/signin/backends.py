"""The K5 account as a Django authentication backend, so that a K5 sign-in goes through
`django.contrib.auth.authenticate()` like the local one: sign-in protection that listens to
Django's sign-in signals (django-axes) sees and counts it. Its own guard (guard.py) is
separate and stricter, and counts per K5 user before the password leaves.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend

from imaging.signin import k5
from portal.addresses import client_address


class K5AccountBackend(BaseBackend):
    """Answers only the K5 sign-in form's credentials (k5_contract, ...), when K5_LOGIN is on.

    A refusal's reason is left on the request (`request.k5_refusal`) for the form to show;
    authenticate() then reports a failed sign-in as for any backend.
    """

    def authenticate(
        self,
        request,
        k5_region=None,
        k5_contract=None,
        k5_username=None,
        k5_password=None,
        **kwargs,
    ):
        if not settings.K5_LOGIN or not (k5_region and k5_contract and k5_username and k5_password):
            return None
        try:
            result = k5.sign_in(
                region=k5_region,
                contract=k5_contract,
                username=k5_username,
                password=k5_password,
                address=client_address(request) if request is not None else None,
            )
        except k5.SignInRefused as refused:
            if request is not None:
                request.k5_refusal = refused.message
            return None
        if request is not None:
            request.k5_sign_in = result
        return result.user

    def get_user(self, user_id):
        """The signed-in user of a session this backend started (permissions are
        ModelBackend's, as for every user)."""
        user = get_user_model().objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None


def axes_username(request, credentials: dict | None = None) -> str | None:
    """The user name django-axes counts a sign-in under: the local form's user name, or for the
    K5 form "contract/user" (the K5 account's portal user name)."""
    data = credentials or {}
    if data.get("k5_username"):
        return f"{str(data.get('k5_contract') or '').strip()}/{str(data['k5_username']).strip()}"
    if data.get("username") is not None:
        return data["username"]
    posted = getattr(request, "data", None) or request.POST
    if posted.get("k5-username"):
        return f"{posted.get('k5-contract', '').strip()}/{posted['k5-username'].strip()}"
    return posted.get("username")
