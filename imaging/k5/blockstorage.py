"""Block Storage (Cinder v2/v3, catalog name blockstoragev2/blockstoragev3): volumes, the
os-volume_upload_image action that turns a volume into an image, and snapshots with K5's
fcx-restore (the Windows round trip: the restore is what undoes Sysprep).

The calls that change something (upload, snapshot create/delete, restore) are sent once and
never retried here: a timeout or a 500/502/504 raises K5OutcomeUnknown (its upload
subclass for the upload), and the caller looks at K5 before sending anything again."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

from .client import BLOCK_STORAGE, K5Client, parsing
from .errors import K5InvalidResponse, K5OutcomeUnknown, K5UploadOutcomeUnknown
from .types import Snapshot, UploadAccepted, Volume

Listed = TypeVar("Listed", Volume, Snapshot)


def volume_list(
    client: K5Client, *, status: str | None = None, name: str | None = None
) -> list[Volume]:
    """Every volume of the project (all pages), optionally filtered by exact status/name."""
    return _every(client, "volumes", Volume, {"status": status, "name": name})


def volume_get(client: K5Client, volume_id: str) -> Volume:
    """One volume; K5NotFound if it does not exist in this project."""
    path = f"volumes/{quote(volume_id, safe='')}"
    reply = client.get(BLOCK_STORAGE, path)
    with parsing(path, reply.request_id):
        return Volume.from_api(reply.body["volume"], reply.request_id)


def volume_upload_to_image(
    client: K5Client,
    volume_id: str,
    image_name: str,
    *,
    force: bool | str = False,
    disk_format: str = "raw",
    container_format: str = "bare",
) -> UploadAccepted:
    """Ask K5 to create the image `image_name` from the volume (os-volume_upload_image).

    Sent exactly once, never retried: K5 allows 4 uploads an hour per project (K5RateLimited
    with retry_after when exceeded) and happily creates two images of one name. If the request
    may have reached K5 without a usable answer, K5UploadOutcomeUnknown says so: look for the
    image by name and at the volume's status before trying again.

    `force` is sent as a JSON boolean: the vendor's parameter table types it "boolean" (the
    string "True" of its example is accepted too, but a boolean cannot be misspelt). Users'
    "True"/"False" strings are accepted here and converted.
    """
    path = f"volumes/{quote(volume_id, safe='')}/action"
    body = {
        "os-volume_upload_image": {
            "image_name": image_name,
            "force": _as_bool(force),
            "disk_format": disk_format,
            "container_format": container_format,
        }
    }
    reply = client.post(BLOCK_STORAGE, path, json=body, outcome_unknown=K5UploadOutcomeUnknown)
    try:
        with parsing(path, reply.request_id):
            return UploadAccepted.from_api(reply.body["os-volume_upload_image"], reply.request_id)
    except K5InvalidResponse as exc:
        # A 2xx says the call was taken (a proxy's HTML page in front of Cinder, say): K5 may
        # well be creating the image. "Refused" would leave that image untracked, holding the
        # name; the caller looks at K5 instead.
        raise K5UploadOutcomeUnknown(
            f"K5 answered HTTP {reply.status} but its answer could not be read "
            f"({exc.message}); the upload may have been accepted",
            status=reply.status,
            request_id=reply.request_id,
            method="POST",
            path=path,
        ) from None


def snapshot_create(
    client: K5Client, volume_id: str, name: str, *, description: str = "", force: bool = True
) -> Snapshot:
    """Ask K5 for a snapshot of the volume; it comes back `creating` (poll snapshot_get
    until SNAPSHOT_AVAILABLE). `force` lets Cinder snapshot an `in-use` volume (without it,
    400). K5OutcomeUnknown when it may have been taken without a usable answer: look for a
    snapshot of that name on the volume (snapshot_list) before asking again."""
    path = "snapshots"
    body = {
        "snapshot": {
            "volume_id": volume_id,
            "force": force,
            "name": name,
            "description": description,
        }
    }
    reply = client.post(BLOCK_STORAGE, path, json=body)
    try:
        with parsing(path, reply.request_id):
            return Snapshot.from_api(reply.body["snapshot"], reply.request_id)
    except K5InvalidResponse as exc:
        # As for the upload: a 2xx says K5 took it, so the snapshot may well exist.
        raise K5OutcomeUnknown(
            f"K5 answered HTTP {reply.status} but its answer could not be read "
            f"({exc.message}); the snapshot may have been taken",
            status=reply.status,
            request_id=reply.request_id,
            method="POST",
            path=path,
        ) from None


def snapshot_get(client: K5Client, snapshot_id: str) -> Snapshot:
    """One snapshot; K5NotFound when it does not exist (or is deleted)."""
    path = f"snapshots/{quote(snapshot_id, safe='')}"
    reply = client.get(BLOCK_STORAGE, path)
    with parsing(path, reply.request_id):
        return Snapshot.from_api(reply.body["snapshot"], reply.request_id)


def snapshot_list(
    client: K5Client, *, volume_id: str | None = None, name: str | None = None
) -> list[Snapshot]:
    """Every snapshot of the project (all pages), optionally only a volume's or one name's."""
    return _every(client, "snapshots", Snapshot, {"volume_id": volume_id, "name": name})


def snapshot_delete(client: K5Client, snapshot_id: str) -> str | None:
    """Ask K5 to delete the snapshot (it goes `deleting`, then 404); returns the request id.
    K5NotFound when it is already gone; K5BadRequest while it is not available/error."""
    path = f"snapshots/{quote(snapshot_id, safe='')}"
    return client.delete(BLOCK_STORAGE, path).request_id


def snapshot_restore(client: K5Client, snapshot_id: str) -> str | None:
    """K5's "restore volume from the snapshot" (`fcx-restore`): the volume gets the
    snapshot's content back. Returns the request id; K5 answers 202 with headers only.

    The volume is busy for a while afterwards (`restoring` in the simulator; read its
    status and `updated_at` rather than trusting a timer). K5Conflict (409) when the
    volume's server is not stopped or the volume or snapshot is busy; K5OutcomeUnknown when
    it may have been taken without a usable answer."""
    path = f"snapshots/{quote(snapshot_id, safe='')}/action"
    return client.post(BLOCK_STORAGE, path, json={"fcx-restore": None}).request_id


def _every(client: K5Client, collection: str, record: type[Listed], params: dict) -> list[Listed]:
    """Every item of a Cinder collection (`GET {collection}/detail`, all pages, each page's
    `{collection}_links` followed), read as `record`s."""
    path = f"{collection}/detail"
    pages = client.get_pages(
        BLOCK_STORAGE,
        path,
        collection=collection,
        next_href=lambda body: _next_link(body, f"{collection}_links"),
        params=params,
    )
    found = []
    for item, request_id in pages:
        with parsing(path, request_id):
            found.append(record.from_api(item, request_id))
    return found


def _next_link(body: dict, key: str) -> str | None:
    for link in body.get(key) or ():
        if link.get("rel") == "next":
            return link.get("href")
    return None


def _as_bool(value: bool | str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"force must be a boolean or 'True'/'False', not {value!r}")
