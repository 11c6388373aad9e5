"""The K5 account's sign-in. The page (registration/login.html, Django's LoginView) shows it
beside the local form, with the company's single sign-on button (templatetags/signin.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from imaging.signin.forms import K5SignInForm

BACKEND = "imaging.signin.backends.K5AccountBackend"


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
        {"form": local, "next": next_url, "k5_form": form},
    )
