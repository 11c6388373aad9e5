from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from imaging.access import memberships_in_force
from imaging.signin import k5


class K5SignInForm(forms.Form):
    """Contract, user name and password as for K5 itself; the region when the portal's K5
    projects are in more than one."""

    region = forms.ChoiceField(label=_("Region"))
    contract = forms.CharField(
        label=_("Contract"),
        max_length=64,
        help_text=_("Your K5 contract number (the domain you sign in to)."),
        widget=forms.TextInput(attrs={"autocomplete": "organization", "spellcheck": "false"}),
    )
    username = forms.CharField(
        label=_("K5 user name"),
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label=_("K5 password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request=None, *args, **kwargs):
        kwargs.setdefault("prefix", "k5")
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = None
        self.regions = k5.regions()
        region = self.fields["region"]
        assert isinstance(region, forms.ChoiceField)
        region.choices = [(r, r) for r in self.regions]
        if len(self.regions) <= 1:
            # One region (or none yet): nothing to choose.
            self.fields["region"].required = False
            self.fields["region"].widget = forms.HiddenInput()

    @property
    def available(self) -> bool:
        return bool(self.regions)

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        region = data.get("region") or (self.regions[0] if self.regions else "")
        if not region:
            raise forms.ValidationError(
                gettext("No K5 project is registered in the portal yet."), code="no_projects"
            )
        self.user = authenticate(
            self.request,
            k5_region=region,
            k5_contract=data["contract"],
            k5_username=data["username"],
            k5_password=data["password"],
        )
        if self.user is None:
            reason = getattr(self.request, "k5_refusal", None)
            raise forms.ValidationError(
                reason or gettext("The sign-in was refused."), code="refused"
            )
        if not memberships_in_force(self.user).exists():
            raise forms.ValidationError(self._no_project_message(), code="no_project")
        return data

    def _no_project_message(self) -> str:
        result = getattr(self.request, "k5_sign_in", None)
        return k5.nothing_here(getattr(result, "unmapped", {}) or {})
