"""The portal's records of K5 projects and who may use them.

The image jobs and their per-zone sync results are in jobs.py, their audit history in
events.py.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from imaging import credentials
from imaging.k5 import K5Config
from imaging.messages import Said, text_of


class BlockStorageVersion(models.TextChoices):
    V2 = "v2", "Block Storage v2"
    V3 = "v3", "Block Storage v3 (newer regions)"


class K5Project(models.Model):
    """One K5 project the portal creates images in, with the service credential it uses."""

    name = models.CharField(max_length=100, unique=True)
    region = models.CharField(
        max_length=50,
        validators=[RegexValidator(r"^[a-z]{2}-[a-z]+-?\d+$", "Regions look like jp-east-1.")],
    )
    identity_url = models.URLField(
        help_text="Keystone v3 URL, e.g. https://identity.jp-east-1.cloud.global.fujitsu.com/v3"
    )
    contract = models.CharField(max_length=64, help_text="The K5 contract number (domain name).")
    k5_project_id = models.CharField("K5 project id", max_length=64)
    username = models.CharField(max_length=255)
    # Fernet ciphertext (imaging.credentials); never shown, never logged.
    password_encrypted = models.TextField(editable=False)
    block_storage_version = models.CharField(
        max_length=2, choices=BlockStorageVersion.choices, default=BlockStorageVersion.V2
    )
    # K5 allows 4 uploads per hour per project; other contracts and tests may differ.
    upload_limit = models.PositiveIntegerField(default=4, validators=[MinValueValidator(1)])
    upload_window_seconds = models.PositiveIntegerField(
        default=3600, validators=[MinValueValidator(1)]
    )
    # The region's availability zones, as compute lists them (cached), unless overridden.
    availability_zones = models.JSONField(default=list, blank=True, editable=False)
    availability_zones_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    availability_zones_override = models.JSONField(
        default=list,
        blank=True,
        help_text='Zones to use instead of those compute lists, e.g. ["jp-east-1a", "jp-east-1b"].',
    )
    # sync_status_reason names the image server that failed (http://ip:9292); this map says
    # which zone that server serves, so the failed zone can be pinpointed.
    sync_server_zones = models.JSONField(
        default=dict,
        blank=True,
        help_text='Image server URL to zone, e.g. {"http://10.0.0.5:9292": "jp-east-1b"}.',
    )
    # How long an active image is watched for a failed zone registration: base + per GB of
    # the image. Empty: the portal's ENGINE_SYNC_SETTLE_BASE_SECONDS / _PER_GB.
    sync_settle_base_seconds = models.PositiveIntegerField(
        "sync settle base (seconds)",
        null=True,
        blank=True,
        help_text="Seconds an active image is watched for a zone registration failure, plus "
        "the per-GB time below. Empty: the portal's default.",
    )
    sync_settle_seconds_per_gb = models.FloatField(
        "sync settle per GB (seconds)",
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Seconds added to the watch per GB of the image. Empty: the portal's default.",
    )
    # Set when K5 rejects the password: no further attempt until an admin changes it (K5 locks
    # the user after 5 wrong passwords in 15 minutes, and the user may be shared).
    credentials_invalid_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Why, as meaning (imaging/messages.py: "credentials.rejected", K5's words in `k5_says`),
    # rendered for the reader; `credentials_error` keeps the English for logs and operators.
    # Rows marked before codes existed have no code: their English is shown as is.
    credentials_error = models.TextField(blank=True, editable=False)
    credentials_error_code = models.CharField(max_length=64, blank=True, editable=False)
    credentials_error_params = models.JSONField(
        default=dict, blank=True, editable=False, encoder=DjangoJSONEncoder
    )
    # The webhook's URL often carries a bearer secret (Slack, Teams): encrypted at rest like
    # the password; read and set through `webhook_url`.
    webhook_url_encrypted = models.TextField(blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    # The language of the message in the project's webhooks (beside its code and parameters).
    language = models.CharField(
        max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "K5 project"

    def __str__(self) -> str:
        return f"{self.name} ({self.region})"

    def set_password(self, password: str) -> None:
        """Store a new K5 password; a corrected credential may be tried again."""
        self.password_encrypted = credentials.encrypt(password)
        self.credentials_invalid_at = None
        self.credentials_error = ""
        self.credentials_error_code, self.credentials_error_params = "", {}

    @property
    def credentials_valid(self) -> bool:
        return self.credentials_invalid_at is None

    @property
    def credentials_said(self) -> Said | str:
        """Why K5 rejected the credential: as meaning, or (rows marked before codes existed)
        the stored English."""
        if self.credentials_error_code:
            return Said(self.credentials_error_code, self.credentials_error_params)
        return self.credentials_error

    @property
    def credentials_error_text(self) -> str:
        """Why K5 rejected the credential, in the active language ("" when it did not)."""
        return text_of(
            self.credentials_error_code, self.credentials_error_params, self.credentials_error
        )

    def sync_settle_seconds(self, size_gb: int) -> float:
        """How long an active image of `size_gb` is watched for sync_status_reason before
        every zone counts as synced: base + size x per-GB, this project's or the portal's."""
        base: float = (
            settings.ENGINE_SYNC_SETTLE_BASE_SECONDS
            if self.sync_settle_base_seconds is None
            else self.sync_settle_base_seconds
        )
        per_gb: float = (
            settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB
            if self.sync_settle_seconds_per_gb is None
            else self.sync_settle_seconds_per_gb
        )
        return base + max(size_gb, 0) * per_gb

    def zones(self) -> list[str]:
        return list(self.availability_zones_override or self.availability_zones)

    @property
    def webhook_url(self) -> str:
        """Receives a signed JSON POST when a job ends ("" for none)."""
        if not self.webhook_url_encrypted:
            return ""
        return credentials.decrypt(self.webhook_url_encrypted)

    @webhook_url.setter
    def webhook_url(self, url: str) -> None:
        self.webhook_url_encrypted = credentials.encrypt(url) if url else ""

    def set_webhook_secret(self, secret: str) -> None:
        self.webhook_secret_encrypted = credentials.encrypt(secret) if secret else ""

    def get_webhook_secret(self) -> str:
        if not self.webhook_secret_encrypted:
            return ""
        return credentials.decrypt(self.webhook_secret_encrypted)

    def get_password(self) -> str:
        return credentials.decrypt(self.password_encrypted)

    def k5_config(self) -> K5Config:
        return K5Config(
            auth_url=self.identity_url,
            region=self.region,
            contract=self.contract,
            username=self.username,
            password=self.get_password(),
            project_id=self.k5_project_id,
            block_storage_version=self.block_storage_version,
            connect_timeout=settings.K5_CONNECT_TIMEOUT,
            read_timeout=settings.K5_READ_TIMEOUT,
        )


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Project admin"


class MembershipSource(models.TextChoices):
    """Who said the user belongs to the project."""

    OPERATOR = "operator", "Granted by an operator"
    K5 = "k5", "K5 roles, at the user's K5 sign-in"
    OIDC = "oidc", "Single sign-on groups, at the user's sign-in"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="k5_memberships"
    )
    project = models.ForeignKey(K5Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # An operator's grant stands until revoked. One from a sign-in (K5 roles, single sign-on
    # groups) is replaced at the next sign-in and stops counting once `synced_at` is older
    # than the source's max age (imaging.access): a person removed from K5 loses access here
    # even if they never come back.
    source = models.CharField(
        max_length=10, choices=MembershipSource.choices, default=MembershipSource.OPERATOR
    )
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project.name}"
