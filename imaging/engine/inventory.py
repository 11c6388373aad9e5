"""A project's volumes as members see them: with the attached server's power state, the OS,
and whether each can be imaged now (and why not).

No web request lists volumes in K5 itself. A worker task (`refresh_inventory`) makes the two
list calls and stores them (`VolumeInventory`); pages and the API answer from the last list
with its age, and ask for a new one when it is old. Asking is coalesced across every process:
at most one K5 listing per project per `K5_INVENTORY_MIN_SECONDS`, whoever asks — all the
members of a project share one K5 user.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _

from imaging import dispatch
from imaging.engine.connections import client_for, credentials_invalid
from imaging.engine.errors import K5NotAvailable, interpolate_lazy
from imaging.engine.validation import SLOW_K5_RETRY_AFTER, Eligibility, eligibility
from imaging.k5 import K5Error, blockstorage, compute
from imaging.k5.types import Attachment, Server, Volume, parse_timestamp
from imaging.messages import Said, k5_words, render_meaning
from imaging.models import ImageJob, K5Project, OsFamily, VolumeInventory

# How often a request waiting for a listing looks whether it has arrived.
_WAIT_STEP = 0.2


@dataclass(frozen=True)
class VolumeRow:
    volume: Volume
    server: dict | None
    verdict: Eligibility

    @property
    def os_family(self) -> OsFamily:
        return OsFamily.of(self.volume)


@dataclass(frozen=True)
class Inventory:
    rows: list[VolumeRow]
    refreshed_at: datetime | None  # None: K5 has not been asked successfully yet
    refreshing: bool  # a listing has been asked for and has not come back yet
    error: str = ""  # K5's words for why the last listing failed (after the rows above)
    error_at: datetime | None = None
    # The same in the reader's language, when the portal knows it as meaning (a rejected
    # credential): rendered when shown.
    error_text: str | Promise = ""

    @property
    def known(self) -> bool:
        return self.refreshed_at is not None

    @property
    def problem(self):
        """The last listing's failure in the reader's language, or None."""
        if not self.error:
            return None
        return interpolate_lazy(
            _("K5 could not be asked for the volumes: %(message)s"),
            {"message": self.error_text or self.error},
        )


def project_inventory(
    project: K5Project, *, refresh: bool = False, wait: float = 0, wait_for_first: float = 0
) -> Inventory:
    """The last volume list, asking for a new one when `refresh` or when it is older than
    K5_INVENTORY_CACHE_SECONDS. Never calls K5 itself: waits up to `wait` seconds for a
    listing asked for (by anyone) to arrive, or up to `wait_for_first` when K5 has never
    given one."""
    record = _record(project)
    stale = record.refreshed_at is None or timezone.now() - record.refreshed_at > timedelta(
        seconds=settings.K5_INVENTORY_CACHE_SECONDS
    )
    if refresh or stale:
        request_refresh(project)
        record.refresh_from_db()
    limit = wait if record.refreshed_at else max(wait, wait_for_first)
    if limit > 0 and _refreshing(record):
        record = _wait_for_listing(record, limit)
    return _inventory(project, record)


def request_refresh(project: K5Project) -> bool:
    """Ask a worker for a new listing, unless one was asked for in the last
    K5_INVENTORY_MIN_SECONDS. Returns whether this call asked."""
    _record(project)
    now = timezone.now()
    recently = now - timedelta(seconds=settings.K5_INVENTORY_MIN_SECONDS)
    claimed = (
        VolumeInventory.objects.filter(project=project)
        .filter(models.Q(requested_at__isnull=True) | models.Q(requested_at__lte=recently))
        .update(requested_at=now)
    )
    if claimed:
        dispatch.enqueue(dispatch.REFRESH_INVENTORY, project.pk)
    return bool(claimed)


def refresh_inventory(project: K5Project, *, despite_rejection: bool = False) -> Inventory:
    """List the project's volumes and servers in K5 and store them (a worker's job, and
    `k5project check`'s). A failure is stored beside the last good list, and raised as
    K5NotAvailable."""
    record = _record(project)
    try:
        client = client_for(project, despite_rejection=despite_rejection)
        volumes = blockstorage.volume_list(client)
        servers: list[Server] = []
        if any(volume.attached_server_id for volume in volumes):
            servers = compute.server_list(client)
    except K5NotAvailable as exc:
        _store_error(record, exc.message, exc.meaning)
        raise
    except K5Error as exc:
        words = k5_words(exc)
        _store_error(record, exc.message, words.as_json() if isinstance(words, Said) else {})
        raise K5NotAvailable(_inventory(project, record).problem) from None
    record.volumes = [_plain(volume) for volume in volumes]
    record.servers = [_plain(server) for server in servers]
    record.refreshed_at = timezone.now()
    record.error, record.error_at, record.error_said = "", None, {}
    record.save(
        update_fields=["volumes", "servers", "refreshed_at", "error", "error_at", "error_said"]
    )
    return _inventory(project, record)


def no_inventory_yet(inventory: Inventory) -> K5NotAvailable:
    """What to answer when K5 has never given this project's volumes and did not in time."""
    if inventory.problem:
        return K5NotAvailable(inventory.problem, retry_after=SLOW_K5_RETRY_AFTER)
    return K5NotAvailable(
        _("K5 has not answered with the volumes yet; they are being fetched. Try again shortly."),
        retry_after=SLOW_K5_RETRY_AFTER,
    )


def _record(project: K5Project) -> VolumeInventory:
    record, _created = VolumeInventory.objects.get_or_create(project=project)
    return record


def _refreshing(record: VolumeInventory) -> bool:
    if record.requested_at is None:
        return False
    answered = max(
        (moment for moment in (record.refreshed_at, record.error_at) if moment), default=None
    )
    return answered is None or answered < record.requested_at


def _wait_for_listing(record: VolumeInventory, seconds: float) -> VolumeInventory:
    until = time.monotonic() + seconds
    while _refreshing(record) and time.monotonic() < until:
        time.sleep(_WAIT_STEP)
        record.refresh_from_db()
    return record


def _store_error(record: VolumeInventory, message: str, meaning: dict) -> None:
    record.error, record.error_at, record.error_said = message, timezone.now(), meaning
    record.save(update_fields=["error", "error_at", "error_said"])


def _plain(item: Volume | Server) -> dict:
    data = asdict(item)
    data.pop("request_id", None)
    return data


def _volume(data: dict) -> Volume:
    attachments = tuple(Attachment(**attachment) for attachment in data["attachments"])
    # Read back from JSON, the time is text (a record just built still holds the datetime;
    # one written before the facade read the time has none).
    updated_at = data.get("updated_at")
    if isinstance(updated_at, str):
        updated_at = parse_timestamp(updated_at)
    return Volume(**{**data, "attachments": attachments, "updated_at": updated_at})


def _inventory(project: K5Project, record: VolumeInventory) -> Inventory:
    volumes = [_volume(data) for data in record.volumes]
    servers = {data["id"]: Server(**data) for data in record.servers}
    # Which volumes our jobs hold is read fresh: it changes with every submission.
    running = set(
        ImageJob.objects.active().filter(project=project).values_list("volume_id", flat=True)
    )
    rows = []
    for volume in sorted(volumes, key=lambda v: (v.name.lower(), v.id)):
        found = servers.get(volume.attached_server_id) if volume.attached_server_id else None
        server = {"id": found.id, "name": found.name, "status": found.status} if found else None
        rows.append(
            VolumeRow(volume, server, eligibility(volume, server, job_running=volume.id in running))
        )
    return Inventory(
        rows=rows,
        refreshed_at=record.refreshed_at,
        refreshing=_refreshing(record),
        error=record.error,
        error_at=record.error_at,
        error_text=_error_text(project, record),
    )


_rendered = lazy(render_meaning, str)


def _error_text(project: K5Project, record: VolumeInventory) -> str | Promise:
    """Why the last listing failed, rendered for the reader when the portal said it: the
    credential K5 rejected (as the project now tells it), or the portal's own finding. Empty
    when it is K5's words (`error`, shown as they are)."""
    error = record.error
    if error and not project.credentials_valid and error == project.credentials_error:
        return credentials_invalid(project).localized_message
    if error and record.error_said:
        return _rendered(record.error_said)
    return ""
