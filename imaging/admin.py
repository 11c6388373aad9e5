from django import forms
from django.contrib import admin

from imaging.models import (
    ExternalAccount,
    ImageJob,
    JobEvent,
    K5Project,
    K5SignInAttempt,
    Membership,
    ZoneSyncResult,
)


class K5ProjectForm(forms.ModelForm):
    identity_url = forms.URLField(
        assume_scheme="https",
        max_length=200,
        help_text=K5Project._meta.get_field("identity_url").help_text,
    )
    webhook_url = forms.URLField(
        assume_scheme="https",
        max_length=2000,
        required=False,
        help_text="Receives a signed JSON POST when a job ends (stored encrypted).",
    )
    # Write-only: the stored password is never rendered back into the page.
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current password. Saving a new one clears the "
        "'credentials invalid' mark, so the engine tries again.",
    )
    webhook_secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="HMAC key for the webhook signature. Leave empty to keep the current one.",
    )

    class Meta:
        model = K5Project
        fields = [
            "name",
            "region",
            "identity_url",
            "contract",
            "k5_project_id",
            "username",
            "block_storage_version",
            "upload_limit",
            "upload_window_seconds",
            "availability_zones_override",
            "sync_server_zones",
            "sync_settle_base_seconds",
            "sync_settle_seconds_per_gb",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["webhook_url"].initial = self.instance.webhook_url

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("password"):
            self.add_error("password", "A new project needs the K5 user's password.")
        return cleaned

    def save(self, commit=True):
        project = super().save(commit=False)
        if self.cleaned_data.get("password"):
            project.set_password(self.cleaned_data["password"])
        if self.cleaned_data.get("webhook_secret"):
            project.set_webhook_secret(self.cleaned_data["webhook_secret"])
        project.webhook_url = self.cleaned_data.get("webhook_url") or ""
        if commit:
            project.save()
        return project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    readonly_fields = ["source", "synced_at"]


@admin.register(K5Project)
class K5ProjectAdmin(admin.ModelAdmin):
    form = K5ProjectForm
    list_display = [
        "name",
        "region",
        "contract",
        "k5_project_id",
        "username",
        "upload_limit",
        "credentials_invalid_at",
    ]
    readonly_fields = [
        "credentials_invalid_at",
        "credentials_error",
        "availability_zones",
        "availability_zones_refreshed_at",
    ]
    search_fields = ["name", "k5_project_id", "username"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Memberships from a sign-in (K5, single sign-on) are replaced at the user's next
    sign-in; the operator's own grants are `operator`."""

    list_display = ["project", "user", "role", "source", "synced_at"]
    list_filter = ["role", "source", "project"]
    readonly_fields = ["source", "synced_at"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Operators look; the history is changed only by the engine and the people it records."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ZoneSyncResultInline(admin.TabularInline):
    model = ZoneSyncResult
    extra = 0
    can_delete = False
    readonly_fields = ["availability_zone", "role", "status", "reason", "checked_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ImageJob)
class ImageJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "project",
        "image_name",
        "volume_id",
        "state",
        "requested_by_name",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", "project", "channel"]
    search_fields = ["image_name", "volume_id", "image_id", "requested_by_name"]
    date_hierarchy = "created_at"
    inlines = [ZoneSyncResultInline]


@admin.register(JobEvent)
class JobEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "project", "job", "kind", "actor_name", "message"]
    list_filter = ["kind", "project"]
    search_fields = ["message", "actor_name"]
    date_hierarchy = "created_at"


@admin.register(ExternalAccount)
class ExternalAccountAdmin(admin.ModelAdmin):
    """Portal users who sign in with their K5 account or the single sign-on. Deactivate the
    user (Users) to refuse their sign-in here whatever the source says."""

    list_display = ["key", "source", "user", "last_sign_in_at"]
    list_filter = ["source"]
    search_fields = ["key", "user__username"]
    readonly_fields = ["user", "source", "key", "external_id", "last_sign_in_at"]

    def has_add_permission(self, request):
        return False


@admin.register(K5SignInAttempt)
class K5SignInAttemptAdmin(ReadOnlyAdmin):
    """What the K5 sign-in guard counts (3 failures in 15 minutes per contract/user)."""

    list_display = ["account", "address", "started_at", "outcome"]
    list_filter = ["outcome"]
    search_fields = ["account", "address"]
