from django import forms
from django.contrib import admin

from imaging.models import K5Project, Membership


class K5ProjectForm(forms.ModelForm):
    identity_url = forms.URLField(assume_scheme="https", max_length=200,
                                  help_text=K5Project._meta.get_field("identity_url").help_text)
    # Write-only: the stored password is never rendered back into the page.
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = K5Project
        fields = [
            "name", "region", "identity_url", "contract", "k5_project_id", "username",
            "block_storage_version", "upload_limit", "upload_window_seconds",
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("password"):
            self.add_error("password", "A new project needs the K5 user's password.")
        return cleaned

    def save(self, commit=True):
        project = super().save(commit=False)
        if self.cleaned_data.get("password"):
            project.set_password(self.cleaned_data["password"])
        if commit:
            project.save()
        return project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(K5Project)
class K5ProjectAdmin(admin.ModelAdmin):
    form = K5ProjectForm
    list_display = ["name", "region", "contract", "k5_project_id", "username", "upload_limit"]
    search_fields = ["name", "k5_project_id", "username"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role"]
    list_filter = ["role", "project"]
