"""The sign-in page: the local form, "Sign in with your K5 account" beside it (K5_LOGIN), and
the company's single sign-on button (OIDC_ISSUER)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from imaging.signin.forms import K5SignInForm

BACKEND = "imaging.signin.backends.K5AccountBackend"


def sign_in_options(request, k5_form: K5SignInForm | None = None) -> dict:
    """What the sign-in page offers besides the local form."""
    if settings.K5_LOGIN and k5_form is None:
        k5_form = K5SignInForm(request)
    return {
        "k5_form": k5_form if settings.K5_LOGIN else None,
        "oidc_enabled": bool(settings.OIDC_ISSUER),
    }


class SignInView(LoginView):
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(sign_in_options(self.request))
        return context


@sensitive_post_parameters("k5-password")
@csrf_protect
@never_cache
@require_POST
def k5_sign_in(request):
    if not settings.K5_LOGIN:
        raise Http404
    form = K5SignInForm(request, data=request.POST)
    next_url = request.POST.get("next", "")
    if form.is_valid():
        login(request, form.user, backend=BACKEND)
        # The session ends when the memberships it was given lapse: the next sign-in renews
        # both together.
        request.session.set_expiry(int(settings.K5_LOGIN_MAX_AGE.total_seconds()) or None)
        safe = url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return HttpResponseRedirect(
            next_url if safe and next_url else resolve_url(settings.LOGIN_REDIRECT_URL)
        )
    local = AuthenticationForm(request)
    local.fields["username"].widget.attrs.pop("autofocus", None)  # the K5 form is the one in use
    return render(
        request,
        "registration/login.html",
        {"form": local, "next": next_url, **sign_in_options(request, form)},
    )
