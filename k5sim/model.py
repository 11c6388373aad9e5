"""The simulated cloud's records. Plain data; behaviour lives in state.py and uploads.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Domain:
    id: str
    name: str


@dataclass
class Project:
    id: str
    name: str
    domain_id: str


@dataclass
class User:
    id: str
    name: str
    domain_id: str
    password: str
    # Keystone's role assignments on projects: role names per project id. A project where the
    # user holds no role is not one of theirs (no scoped token, not listed).
    project_roles: dict[str, list[str]]
    # Roles on the user's own domain (what a domain-scoped token carries).
    roles: list[str]
    # Keystone's default_project_id: where a request without `scope` is scoped.
    default_project_id: str | None = None

    @property
    def project_ids(self) -> list[str]:
        return [project_id for project_id, roles in self.project_roles.items() if roles]


@dataclass
class Token:
    id: str
    user_id: str
    methods: list[str]
    issued_at: float
    expires_at: float
    audit_id: str
    project_id: str | None = None
    domain_id: str | None = None  # set for a domain-scoped token


@dataclass
class Attachment:
    id: str
    server_id: str
    device: str
    host_name: str | None
    attached_at: float


@dataclass
class Volume:
    id: str
    project_id: str
    user_id: str
    name: str
    status: str
    size: int
    availability_zone: str
    created_at: float
    seq: int  # creation order; ties created_at for Cinder's stable "created_at desc" order
    bootable: bool = False
    volume_type: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    volume_image_metadata: dict[str, str] | None = None
    attachments: list[Attachment] = field(default_factory=list)
    updated_at: float | None = None
    upload_id: str | None = None  # the running upload, while `uploading`
    # What is on the disk, for tests only (K5 shows nothing of it): "original", "generalized"
    # after Sysprep ran on its server, or whatever a snapshot restored. /_sim/ shows it.
    content: str = "original"
    restore: dict[str, Any] | None = None  # the running fcx-restore, while `restoring`


@dataclass
class Server:
    id: str
    project_id: str
    user_id: str
    name: str
    status: str
    availability_zone: str
    created_at: float
    updated_at: float
    volume_ids: list[str] = field(default_factory=list)
    # Nova's OS-EXT-STS:task_state while an os-stop/os-start is in progress
    # ("powering-off", "powering-on"), else None.
    task_state: str | None = None
    # Every start ({"at", "content", "volume_status", "by"}) and stop ({"at", "by"}), so tests
    # can tell on which disk a server was booted. Only /_sim/ shows them.
    starts: list[dict[str, Any]] = field(default_factory=list)
    stops: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Snapshot:
    """A Cinder volume snapshot; `content` is the volume's content when it was taken."""

    id: str
    project_id: str
    user_id: str
    volume_id: str
    name: str | None
    description: str | None
    status: str  # creating | available | deleting | error
    size: int
    created_at: float
    updated_at: float
    seq: int
    content: str
    metadata: dict[str, str] = field(default_factory=dict)
    restores: list[float] = field(default_factory=list)  # when each fcx-restore was accepted


@dataclass
class Image:
    id: str
    name: str
    owner: str
    status: str
    created_at: float
    updated_at: float
    seq: int
    visibility: str = "private"
    protected: bool = False
    size: int | None = None
    checksum: str | None = None
    disk_format: str | None = "raw"
    container_format: str | None = "bare"
    min_disk: int = 0
    min_ram: int = 0
    tags: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    origin_zone: str | None = None
    # Per other zone of the region: {"status": pending|registered|failed|cancelled, "due_at"}.
    # K5 does not expose this; only /_sim/state shows it.
    zone_sync: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Upload:
    """One accepted `os-volume_upload_image` call and its progress."""

    id: str
    project_id: str
    volume_id: str
    image_id: str
    image_name: str
    size: int
    zone: str
    previous_status: str
    accepted_at: float
    ends_at: float
    state: str = "running"  # running | succeeded | failed | vanished | token_expired
    finished_at: float | None = None
    # Expiry of the token the upload was made with: Cinder copies with it. None for an upload
    # a scenario starts, which no client's token made.
    token_expires_at: float | None = None
