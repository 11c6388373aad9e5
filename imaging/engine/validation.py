"""Every rule a submission must pass before anything is queued — one function for web and API.

Each refusal names the rule, in words a project member understands, and says which field it
concerns so forms and the API can put it next to that field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from imaging.engine.connections import client_for
from imaging.engine.durations import duration_words, expected_seconds
from imaging.engine.errors import K5NotAvailable, Refusal, english, interpolate_lazy
from imaging.k5 import K5Error, K5NotFound, K5TooSlow, blockstorage, compute, image
from imaging.k5.types import Volume
from imaging.models import Automation, ImageJob, K5Project, OsFamily

# What the member confirms before imaging, per OS family (the vendor's required preparation).
PREPARATION = {
    OsFamily.LINUX: "linux-network-settings-removed",
    OsFamily.WINDOWS: "windows-sysprep-run",
}
PREPARATION_TEXT = {
    OsFamily.LINUX: _(
        "the network settings tied to the old NIC were removed (CentOS, Ubuntu, RHEL)"
    ),
    OsFamily.WINDOWS: _("Sysprep was run on the Windows server"),
}
# A round trip's Sysprep is run after the snapshot; the shutdown it ends with is the evidence.
SYSPREP_AWAITED = "windows-sysprep-awaited"
MAX_IMAGE_NAME = 255
# What a client told "K5 is slow" is asked to wait before trying again (Retry-After).
SLOW_K5_RETRY_AFTER = 30


@dataclass
class Submission:
    project: K5Project
    volume_id: str
    image_name: str
    preparation_confirmed: bool
    force: bool = False
    os_stopped_confirmed: bool = False
    # Only for a volume whose OS K5 does not tell: which family the requester says it is.
    os_family: str | None = None
    disk_format: str = "raw"
    container_format: str = "bare"
    # A retry's: the old job's image, which keeps the name until the new upload replaces it.
    replaces_image_id: str | None = None
    # What the portal does around the upload (imaging.engine.automation).
    automation: str = Automation.NONE
    keep_snapshot: bool = False


@dataclass
class CheckedSubmission:
    submission: Submission
    volume: Volume
    os_family: str
    preparation: str
    server: dict | None = None
    # How long the copy should take (imaging.engine.durations), read once for the check
    # against the sign-in's life and kept on the job.
    expected_seconds: int = 0
    notes: list[str] = field(default_factory=list)

    def volume_snapshot(self) -> dict:
        volume = self.volume
        return {
            "id": volume.id,
            "name": volume.name,
            "size": volume.size,
            "status": volume.status,
            "availability_zone": volume.availability_zone,
            "bootable": volume.bootable,
            "volume_type": volume.volume_type,
            "os_family": self.os_family,
            "os_distro": volume.image_metadata.get("os_distro", ""),
            "image_metadata": volume.image_metadata,
            "attached_server": self.server,
        }


def check_submission(submission: Submission) -> CheckedSubmission:
    """Apply every rule, cheapest first; raise Refusal naming the first one broken."""
    s = submission
    name = s.image_name or ""
    if not name.strip():
        raise Refusal("invalid", _("The image name is required."), field="image_name")
    if len(name) > MAX_IMAGE_NAME:
        raise Refusal(
            "invalid",
            interpolate_lazy(
                _("The image name must be at most %(limit)d characters (it has %(length)d)."),
                {"limit": MAX_IMAGE_NAME, "length": len(name)},
            ),
            field="image_name",
        )
    if s.automation not in Automation.values:
        raise Refusal(
            "invalid",
            interpolate_lazy(
                _("Unknown automation %(value)s; choose one of: %(choices)s."),
                {"value": repr(s.automation), "choices": ", ".join(Automation.values)},
            ),
            field="automation",
        )
    if (s.disk_format or "raw") != "raw":
        raise Refusal(
            "invalid", _("K5 creates images only in the raw disk format."), field="disk_format"
        )
    if (s.container_format or "bare") != "bare":
        raise Refusal(
            "invalid",
            _("K5 creates images only in the bare container format."),
            field="container_format",
        )
    # One query for both rules; the volume's is reported first.
    clashes = set(
        ImageJob.objects.active()
        .filter(Q(volume_id=s.volume_id) | Q(image_name=name), project=s.project)
        .values_list("volume_id", "image_name")
    )
    if any(volume_id == s.volume_id for volume_id, _name in clashes):
        raise Refusal(
            "volume_busy",
            _(
                "Another image job for this volume is still running; "
                "wait for it to end or cancel it."
            ),
            field="volume_id",
        )
    if any(taken == name for _volume_id, taken in clashes):
        raise Refusal(
            "image_name_taken",
            interpolate_lazy(
                _(
                    "An image job named %(name)s is already running in this project; choose "
                    "another name."
                ),
                {"name": repr(name)},
            ),
            field="image_name",
        )

    try:
        client = client_for(s.project)
        try:
            volume = blockstorage.volume_get(client, s.volume_id)
        except K5NotFound:
            raise Refusal(
                "not_found", _("No such volume in this project."), field="volume_id"
            ) from None
        server = _check_volume_state(s, volume, client)
        namesakes = image.images_named(client, name, owner=s.project.k5_project_id)
        if any(found.id != s.replaces_image_id for found in namesakes):
            raise Refusal(
                "image_name_taken",
                interpolate_lazy(
                    _(
                        "An image named %(name)s already exists in this project (K5 allows "
                        "duplicates, which makes images hard to tell apart); choose another name."
                    ),
                    {"name": repr(name)},
                ),
                field="image_name",
            )
    except K5Error as exc:
        raise k5_not_available(
            exc, _("K5 could not be asked about the volume: %(message)s Try again shortly.")
        ) from None

    expected = expected_seconds(s.project, volume.size)
    _check_copy_fits_sign_in(volume, expected, client.token_life())
    family = OsFamily.of(volume)
    if family == OsFamily.UNKNOWN:
        if s.os_family not in PREPARATION:
            raise Refusal(
                "os_unknown",
                _(
                    "K5 does not say which OS is on this volume: say "
                    "whether it is Linux or Windows, so the right "
                    "preparation is confirmed."
                ),
                field="os_family",
            )
        family = OsFamily(s.os_family)
    round_trip = s.automation == Automation.SYSPREP_ROUND_TRIP
    if round_trip and family != OsFamily.WINDOWS:
        raise Refusal(
            "automation_not_applicable",
            _(
                "The Windows round trip (snapshot, Sysprep, restore) applies only to a Windows "
                "volume; this one is not Windows."
            ),
            field="automation",
        )
    if round_trip:
        # Sysprep comes after the snapshot: nothing to confirm yet; the portal waits for the
        # shutdown Sysprep ends with.
        pass
    elif not s.preparation_confirmed:
        raise Refusal(
            "preparation_required",
            interpolate_lazy(
                _("Confirm the preparation before imaging: %(preparation)s."),
                {"preparation": PREPARATION_TEXT[family]},
            ),
            field="preparation_confirmed",
        )
    return CheckedSubmission(
        submission=s,
        volume=volume,
        os_family=family,
        preparation=SYSPREP_AWAITED if round_trip else PREPARATION[family],
        server=server,
        expected_seconds=expected,
    )


def k5_not_available(exc: K5Error, could_not_ask) -> K5NotAvailable:
    """What a person is told when K5 failed a check made before anything is queued: that it
    was too slow (the request's time budget ran out: try again in a minute), or, in
    `could_not_ask` (a lazy message with `%(message)s`), what K5 said."""
    if isinstance(exc, K5TooSlow):
        return K5NotAvailable(
            interpolate_lazy(
                _(
                    "K5 is slow: it did not answer within %(seconds)s s, so nothing was queued. "
                    "Try again in a minute."
                ),
                {"seconds": f"{settings.K5_REQUEST_BUDGET_SECONDS:g}"},
            ),
            retry_after=SLOW_K5_RETRY_AFTER,
        )
    return K5NotAvailable(interpolate_lazy(could_not_ask, {"message": exc.message}))


def _check_copy_fits_sign_in(volume: Volume, expected: int, token_life: float | None) -> None:
    """Cinder copies the volume into Glance with the token that sent the upload; a copy that
    outlasts a K5 token (3 h) ends with the image `saving` for ever, however fresh the token
    the engine sends it with. Said before anything is queued."""
    if token_life is None or expected <= token_life:
        return
    raise Refusal(
        "copy_outlasts_sign_in",
        interpolate_lazy(
            _(
                "Copying this %(size)d GB volume is expected to take about %(expected)s, longer "
                "than a K5 sign-in lasts (%(life)s). K5 copies with the sign-in that sent the "
                "upload, so it would stop the copy before the end. Nothing was queued."
            ),
            {
                "size": volume.size,
                "expected": duration_words(expected),
                "life": duration_words(token_life),
            },
        ),
        field="volume_id",
    )


def _check_volume_state(s: Submission, volume: Volume, client) -> dict | None:
    server = None
    if volume.status == "in-use" and volume.attached_server_id:
        found = compute.server_get(client, volume.attached_server_id)
        server = {"id": found.id, "name": found.name, "status": found.status}
    verdict = eligibility(volume, server)
    if s.automation != Automation.NONE:
        if server is None:
            raise Refusal(
                "automation_not_applicable",
                _(
                    "This automation stops and starts the volume's server, and the volume is "
                    "attached to no server: choose no automation."
                ),
                field="automation",
            )
        if verdict.code == "server_running":
            return server  # the portal stops it, or waits for Sysprep to
        if not verdict.eligible:
            raise Refusal(verdict.code, verdict.localized_reason, field=verdict.field)
        return server
    if volume.status == "in-use" and verdict.eligible and not s.force:
        raise Refusal(
            "force_required",
            _(
                "The volume is attached to a server (in-use): stop "
                "the OS and create the image with force."
            ),
            field="force",
        )
    if verdict.code == "server_running":
        if not s.force:
            raise Refusal("force_required", verdict.localized_reason, field="force")
        if s.os_stopped_confirmed:
            return server
    if not verdict.eligible:
        raise Refusal(verdict.code, verdict.localized_reason, field=verdict.field)
    return server


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    requires_force: bool = False
    code: str = ""
    localized_reason: str | Promise = ""  # in the reader's language: the web pages
    field: str = "volume_id"

    @property
    def reason(self) -> str:
        """Why not, in English: the API and the Refusal's `message`."""
        return english(self.localized_reason)


def eligibility(volume: Volume, server: dict | None, *, job_running: bool = False) -> Eligibility:
    """Whether the volume can be imaged now, and if not, why — from what K5 says of it (and
    of its server) and whether one of our jobs holds it. No K5 call: lists use it per row."""
    in_use = volume.status == "in-use"
    if job_running:
        return Eligibility(
            False,
            in_use,
            "volume_busy",
            _("An image job for this volume is still running; wait for it to end or cancel it."),
        )
    if volume.status == "uploading":
        return Eligibility(
            False,
            False,
            "volume_busy",
            _(
                "This volume is already being uploaded to an image; wait until it is available "
                "again."
            ),
        )
    if volume.status == "available":
        return Eligibility(True)
    if not in_use:
        return Eligibility(
            False,
            False,
            "volume_not_ready",
            interpolate_lazy(
                _(
                    "The volume is %(status)s: only an available volume, or an in-use one with "
                    "force, can be imaged."
                ),
                {"status": volume.status},
            ),
        )
    if server and server["status"] != "SHUTOFF":
        return Eligibility(
            False,
            True,
            "server_running",
            interpolate_lazy(
                _(
                    "The server %(name)s is %(status)s, not SHUTOFF: stop its OS first, or confirm "
                    "that the OS is stopped."
                ),
                {"name": server["name"], "status": server["status"]},
            ),
            field="os_stopped_confirmed",
        )
    return Eligibility(True, True)
