import logging
import sys

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views import defaults

from imaging.api import errors
from imaging.models import AccountSource, ApiToken, ExternalAccount, Preference
from imaging.models.preferences import time_zone_choices
from portal import database

log = logging.getLogger(__name__)


def server_error(request):
    """JSON under /api/ (tools parse it), Django's plain page elsewhere. A database locked past
    its busy timeout is no bug: 503 with Retry-After."""
    if database.is_locked(sys.exc_info()[1]):
        return database_busy(request)
    if request.path.startswith("/api/"):
        return errors.server_error(request)
    return defaults.server_error(request)


def database_busy(request):
    seconds = database.RETRY_AFTER_SECONDS
    if request.path.startswith("/api/"):
        response = JsonResponse(
            errors.body(
                "unavailable",
                f"The portal's database is busy and nothing was changed. "
                f"Try again in {seconds} seconds.",
            ),
            status=503,
        )
    else:
        response = render(request, "503.html", {"seconds": seconds}, status=503)
    response["Retry-After"] = str(seconds)
    return response


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("What is it for?"))
    expires_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        label=_("Expires after (days)"),
        help_text=_("Leave empty for no expiry."),
    )


class PreferenceForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)

    class Meta:
        model = Preference
        fields = ["language", "time_zone"]


def _preference_form(request, data=None) -> PreferenceForm:
    """The saved choice, else the browser's language and the portal's time zone."""
    saved = Preference.saved(request.user)
    if saved is None:
        saved = Preference(
            user=request.user,
            language=getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE),
            time_zone=settings.TIME_ZONE,
        )
    return PreferenceForm(data, instance=saved, prefix="pref")


@login_required
def profile(request):
    """The user's API tokens: create one (its key is shown once, on this answer only), or
    disable one."""
    form = TokenForm()
    new_key = None
    preferences = _preference_form(request)
    if request.method == "POST" and "preferences" in request.POST:
        preferences = _preference_form(request, request.POST)
        if preferences.is_valid():
            saved = preferences.save()
            messages.success(request, _("Your language and time zone are saved."))
            response = redirect("profile")
            # This browser's choice (the header's switch) follows the saved one.
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, saved.language)
            return response
    elif request.method == "POST":
        if "disable" in request.POST:
            # Only one's own token, and only a real id: anything else changes nothing.
            chosen = request.POST["disable"]
            if chosen.isdigit() and ApiToken.objects.filter(user=request.user, pk=chosen).update(
                enabled=False
            ):
                messages.success(request, _("The token was disabled."))
            return redirect("profile")
        form = TokenForm(request.POST)
        if form.is_valid():
            _token, new_key = ApiToken.issue(
                request.user, form.cleaned_data["name"], days=form.cleaned_data["expires_days"]
            )
            form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    response = render(
        request,
        "imaging/profile.html",
        {
            "form": form,
            "tokens": tokens,
            "new_key": new_key,
            "preferences": preferences,
            "signed_in_with": _external_sign_in(request.user),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _external_sign_in(user) -> dict | None:
    """For a K5 or single sign-on account: where its memberships come from, and until when
    the last sign-in's hold (imaging.access applies the same max age)."""
    account = ExternalAccount.objects.filter(user=user).first()
    if account is None or account.last_sign_in_at is None:
        return None
    max_age = (
        settings.K5_LOGIN_MAX_AGE
        if account.source == AccountSource.K5
        else settings.OIDC_LOGIN_MAX_AGE
    )
    return {"source": account.source, "until": account.last_sign_in_at + max_age}
