"""Small read-only results of the K5 facade: only what the portal uses, parsed once here.

`request_id` is K5's id of the call that produced the object (what Fujitsu support asks
for); it does not take part in equality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The OS families the portal distinguishes (Windows needs Sysprep, Linux needs its network
# settings cleaned before imaging).
LINUX = "linux"
WINDOWS = "windows"
UNKNOWN = "unknown"

# How K5's values begin, by family: its own flags (`fcx.win`, `fcx.centos`), imported images'
# os_type (`win2012R2SE`, `rhel7`, `centos7`, `ubuntu16.04`) and the source image's name
# (`CentOS 7.9 64bit (English) 01`, `Windows Server 2019 SE ...`). "win" must end there or
# go on with a digit, "dows" or a separator, so that a name like "winter-backup" says nothing.
_WINDOWS_START = re.compile(r"win(?:dows|\d|[\W_]|$)")
_LINUX_START = re.compile(
    r"(?:linux|rhel|red ?hat|centos|ubuntu|sles|suse|opensuse|debian|oracle|ol\d|fedora"
    r"|almalinux|rocky|cirros|coreos)"
)
_TRUE = frozenset({"true", "1", "yes", "on"})

# K5's own words for states, named once (Cinder volume and snapshot statuses, Nova server
# statuses and task states).
VOLUME_AVAILABLE = "available"
VOLUME_IN_USE = "in-use"
VOLUME_RESTORING = "restoring"  # K5's fcx-restore of a snapshot is running
SNAPSHOT_CREATING = "creating"
SNAPSHOT_AVAILABLE = "available"
SNAPSHOT_DELETING = "deleting"
SNAPSHOT_ERROR = "error"
SERVER_ACTIVE = "ACTIVE"
SERVER_SHUTOFF = "SHUTOFF"
TASK_POWERING_OFF = "powering-off"
TASK_POWERING_ON = "powering-on"


@dataclass(frozen=True)
class Attachment:
    server_id: str
    device: str | None


@dataclass(frozen=True)
class Volume:
    id: str
    name: str
    status: str
    size: int
    availability_zone: str | None
    bootable: bool
    attachments: tuple[Attachment, ...]
    volume_type: str | None
    image_metadata: dict[str, str]
    # Moves with every change K5 makes (an upload, a restore): how to tell "back at rest
    # after the restore" from "never left rest".
    updated_at: datetime | None = field(default=None, compare=False)
    request_id: str | None = field(default=None, compare=False)

    @property
    def attached_server_id(self) -> str | None:
        return self.attachments[0].server_id if self.attachments else None

    @property
    def os_family(self) -> str:
        return os_family_of(self.image_metadata)

    @classmethod
    def from_api(cls, data: dict[str, Any], request_id: str | None = None) -> Volume:
        return cls(
            id=data["id"],
            # Cinder v1 called it display_name; some K5 answers still carry it.
            name=data.get("name") or data.get("display_name") or "",
            status=data.get("status", ""),
            size=int(data.get("size") or 0),
            availability_zone=data.get("availability_zone"),
            # Cinder sends "true"/"false" strings here, not JSON booleans.
            bootable=str(data.get("bootable", "")).lower() in _TRUE,
            attachments=tuple(
                Attachment(server_id=a["server_id"], device=a.get("device"))
                for a in data.get("attachments") or ()
                if a.get("server_id")
            ),
            volume_type=_volume_type_name(data.get("volume_type")),
            image_metadata={
                str(k): str(v) for k, v in (data.get("volume_image_metadata") or {}).items()
            },
            updated_at=parse_timestamp(data.get("updated_at")),
            request_id=request_id,
        )


@dataclass(frozen=True)
class UploadAccepted:
    """K5 accepted an os-volume_upload_image: the image exists (queued) and the volume is
    uploading. Nothing is finished yet."""

    volume_id: str
    image_id: str
    image_name: str
    status: str
    request_id: str | None = field(default=None, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any], request_id: str | None = None) -> UploadAccepted:
        return cls(
            volume_id=data["id"],
            image_id=data["image_id"],
            image_name=data.get("image_name", ""),
            status=data.get("status", ""),
            request_id=request_id,
        )


# K5's property for a failed registration to another zone, and the vendor page's other spelling.
SYNC_REASON_PROPERTIES = ("sync_status_reason", "sync_reason_status")

# Glance v2 fields that are not free-form image properties.
_IMAGE_CORE = frozenset(
    {
        "id",
        "name",
        "status",
        "owner",
        "created_at",
        "updated_at",
        "size",
        "virtual_size",
        "protected",
        "disk_format",
        "container_format",
        "visibility",
        "checksum",
        "min_disk",
        "min_ram",
        "tags",
        "file",
        "self",
        "schema",
        "direct_url",
        "locations",
        "os_hidden",
        "os_hash_algo",
        "os_hash_value",
    }
)


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    status: str
    owner: str | None
    created_at: datetime | None
    updated_at: datetime | None
    size: int | None
    protected: bool
    disk_format: str | None
    container_format: str | None
    visibility: str | None
    properties: dict[str, Any]
    request_id: str | None = field(default=None, compare=False)

    @property
    def sync_status_reason(self) -> str | None:
        """K5's record of a failed registration to another availability zone (None = none).

        The vendor's page spells the property both `sync_status_reason` and
        `sync_reason_status`; either is read, the documented one first.
        """
        for key in SYNC_REASON_PROPERTIES:
            value = self.properties.get(key)
            if value not in (None, ""):
                return str(value)
        return None

    @property
    def is_usable(self) -> bool:
        """K5's rule: the image exists, is active, and has no sync_status_reason."""
        return self.status == "active" and self.sync_status_reason is None

    @classmethod
    def from_api(cls, data: dict[str, Any], request_id: str | None = None) -> Image:
        size = data.get("size")
        return cls(
            id=data["id"],
            name=data.get("name") or "",
            status=data.get("status", ""),
            owner=data.get("owner"),
            created_at=parse_timestamp(data.get("created_at")),
            updated_at=parse_timestamp(data.get("updated_at")),
            size=int(size) if size is not None else None,
            protected=bool(data.get("protected", False)),
            disk_format=data.get("disk_format"),
            container_format=data.get("container_format"),
            visibility=data.get("visibility"),
            properties={k: v for k, v in data.items() if k not in _IMAGE_CORE},
            request_id=request_id,
        )


@dataclass(frozen=True)
class Snapshot:
    """A Cinder volume snapshot (statuses SNAPSHOT_CREATING -> SNAPSHOT_AVAILABLE, then
    SNAPSHOT_DELETING; SNAPSHOT_ERROR when it failed)."""

    id: str
    volume_id: str
    name: str
    status: str
    size: int
    created_at: datetime | None
    updated_at: datetime | None
    request_id: str | None = field(default=None, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any], request_id: str | None = None) -> Snapshot:
        return cls(
            id=data["id"],
            volume_id=data["volume_id"],
            # Cinder v1 called it display_name.
            name=data.get("name") or data.get("display_name") or "",
            status=data.get("status", ""),
            size=int(data.get("size") or 0),
            created_at=parse_timestamp(data.get("created_at")),
            updated_at=parse_timestamp(data.get("updated_at")),
            request_id=request_id,
        )


@dataclass(frozen=True)
class Server:
    id: str
    name: str
    status: str
    availability_zone: str | None
    # Nova's OS-EXT-STS:task_state: TASK_POWERING_OFF / TASK_POWERING_ON while an os-stop /
    # os-start is under way (the status changes only at its end), else None.
    task_state: str | None = None
    request_id: str | None = field(default=None, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any], request_id: str | None = None) -> Server:
        return cls(
            id=data["id"],
            name=data.get("name", ""),
            status=data.get("status", ""),
            availability_zone=data.get("OS-EXT-AZ:availability_zone"),
            task_state=data.get("OS-EXT-STS:task_state") or None,
            request_id=request_id,
        )


@dataclass(frozen=True)
class AvailabilityZone:
    name: str
    available: bool


def os_family_of(image_metadata: dict[str, str]) -> str:
    """ "linux", "windows" or "unknown" from a volume's image metadata.

    Each hint is read by how it begins: os_type, os_distro, the source image's name
    (`image_name`) and K5's fcx.<os> flags set to true (K5's public images carry the flags
    and no os_type). Contradicting hints give "unknown": better to ask a person than to
    prepare a Windows server like a Linux one.
    """
    hints: set[str] = set()
    for key in ("os_type", "os_distro", "image_name"):
        family = _family_of_name(image_metadata.get(key, ""))
        if family:
            hints.add(family)
    for key, value in image_metadata.items():
        if key.startswith("fcx.") and str(value).strip().lower() in _TRUE:
            family = _family_of_name(key[len("fcx.") :])
            if family:
                hints.add(family)
    return hints.pop() if len(hints) == 1 else UNKNOWN


def _family_of_name(name: str) -> str | None:
    name = name.strip().lower()
    if _WINDOWS_START.match(name):
        return WINDOWS
    if _LINUX_START.match(name):
        return LINUX
    return None


def _volume_type_name(value: object) -> str | None:
    # Cinder's volume detail gives the type's name; the upload answer gives an object.
    if isinstance(value, dict):
        return value.get("name")
    return value if isinstance(value, str) and value else None


def parse_timestamp(value: str | None) -> datetime | None:
    """An aware UTC datetime from Glance ("...Z") or Cinder (naive, UTC) timestamps."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
