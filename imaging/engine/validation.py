"""Every rule a submission must pass before anything is queued — one function for web and API.

Each refusal names the rule, in words a project member understands, and says which field it
concerns so forms and the API can put it next to that field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from imaging.engine.connections import CredentialsInvalid, client_for
from imaging.k5 import K5Error, K5NotFound, blockstorage, compute, image
from imaging.k5.types import LINUX, UNKNOWN, WINDOWS, Volume
from imaging.models import ImageJob, K5Project

# What the member confirms before imaging, per OS family (the vendor's required preparation).
PREPARATION = {
    LINUX: "linux-network-settings-removed",
    WINDOWS: "windows-sysprep-run",
}
PREPARATION_TEXT = {
    LINUX: _("the network settings tied to the old NIC were removed (CentOS, Ubuntu, RHEL)"),
    WINDOWS: _("Sysprep was run on the Windows server"),
}
MAX_IMAGE_NAME = 255


def _interpolate(message, params: dict) -> str:
    return str(message) % params


# `_("… %(name)s …") % params`, but put together only when shown, in the reader's language.
interpolate_lazy = lazy(_interpolate, str)


def english(text: str | Promise) -> str:
    """A (lazy) translatable text in English: for the API, the audit log and logs."""
    with override("en"):
        return str(text)


class Refusal(Exception):
    """A submission rule was not met.

    `code` is stable for tools: conflicts (`volume_busy`, `image_name_taken`,
    `idempotency_conflict`, `not_allowed`) map to HTTP 409, `not_found` to 404, `forbidden` to
    403, `k5_unavailable` (K5 could not be asked) to 503, the rest to 400.

    `message` is English whatever the request's language (the API and logs give it);
    `localized_message` is the same text in the reader's language, for the web pages.
    """

    def __init__(self, code: str, message: str | Promise, *, field: str | None = None):
        english_message = english(message)
        super().__init__(english_message)
        self.code = code
        self.message = english_message
        self.localized_message = message
        self.field = field


CONFLICT_CODES = frozenset(
    {"volume_busy", "image_name_taken", "idempotency_conflict", "not_allowed"}
)


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


@dataclass
class CheckedSubmission:
    submission: Submission
    volume: Volume
    os_family: str
    preparation: str
    server: dict | None = None
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
    if ImageJob.objects.active().filter(project=s.project, volume_id=s.volume_id).exists():
        raise Refusal(
            "volume_busy",
            _(
                "Another image job for this volume is still running; "
                "wait for it to end or cancel it."
            ),
            field="volume_id",
        )
    if ImageJob.objects.active().filter(project=s.project, image_name=name).exists():
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
        if image.image_list(client, name=name, owner=s.project.k5_project_id):
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
    except CredentialsInvalid as exc:
        raise Refusal("k5_unavailable", str(exc)) from None
    except K5Error as exc:
        raise Refusal(
            "k5_unavailable",
            interpolate_lazy(
                _("K5 could not be asked about the volume: %(message)s Try again shortly."),
                {"message": exc.message},
            ),
        ) from None

    family = volume.os_family
    if family == UNKNOWN:
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
        family = s.os_family
    if not s.preparation_confirmed:
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
        preparation=PREPARATION[family],
        server=server,
    )


def _check_volume_state(s: Submission, volume: Volume, client) -> dict | None:
    server = None
    if volume.status == "in-use" and volume.attached_server_id:
        found = compute.server_get(client, volume.attached_server_id)
        server = {"id": found.id, "name": found.name, "status": found.status}
    verdict = eligibility(volume, server)
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
