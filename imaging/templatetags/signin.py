"""The sign-in page's other ways in, for every view that renders it (the sign-in views, and
django-axes' locked-out answer, which knows only the local form)."""

from __future__ import annotations

from django import template
from django.conf import settings

from imaging.signin.forms import K5SignInForm

register = template.Library()


@register.simple_tag(takes_context=True)
def k5_sign_in_form(context):
    """The K5 form the view gave, or a new one when K5_LOGIN is on; None when it is off."""
    if not settings.K5_LOGIN:
        return None
    return context.get("k5_form") or K5SignInForm(context.get("request"))


@register.simple_tag
def single_sign_on_enabled() -> bool:
    return bool(settings.OIDC_ISSUER)
