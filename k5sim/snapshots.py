"""Block Storage v2/v3 snapshots (Cinder) and K5's `fcx-restore` snapshot action.

Timeline (K5 seconds, scenario settings):
  create        snapshot `creating`; `available` after `snapshot_seconds`. It records the
                volume's content as it is now (a point-in-time copy).
  delete        snapshot `deleting`; gone (404) after `snapshot_delete_seconds`
  fcx-restore   202 with no body; the volume is `restoring` for `restore_seconds`, then back
                to its previous status with the snapshot's content
K5's restore page states no preconditions; the simulator assumes the strictest ones (409):
every server the volume is attached to SHUTOFF with no task running, the volume at rest, the
snapshot `available`.
"""

from __future__ import annotations

from typing import Any

from .blockstorage import cinder_page, next_links, reply
from .clock import cinder_time
from .errors import VOLUME, ApiError
from .model import Snapshot, Volume
from .web import Call, Reply, Route

CREATING = "creating"
AVAILABLE = "available"
DELETING = "deleting"
RESTORING = "restoring"
AT_REST = ("available", "in-use")
FILTERS = ("volume_id", "name", "status")


def snapshot_json(snapshot: Snapshot, *, extended: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": snapshot.id,
        "name": snapshot.name,
        "description": snapshot.description,
        "status": snapshot.status,
        "size": snapshot.size,
        "volume_id": snapshot.volume_id,
        "created_at": cinder_time(snapshot.created_at),
        "updated_at": cinder_time(snapshot.updated_at),
        "metadata": dict(snapshot.metadata),
    }
    if extended:  # Cinder's extended_snapshot_attributes extension (show, detail, create)
        progress = "100%" if snapshot.status == AVAILABLE else "0%"
        body["os-extended-snapshot-attributes:progress"] = progress
        body["os-extended-snapshot-attributes:project_id"] = snapshot.project_id
    return body


def _snapshot(call: Call) -> Snapshot:
    snapshot_id = call.params["snapshot_id"]
    snapshot = call.world.project_snapshots.get(call.params["project_id"], {}).get(snapshot_id)
    if snapshot is None:
        raise ApiError(404, f"Snapshot {snapshot_id} could not be found.")
    return snapshot


def _force(value: object) -> bool:
    # oslo strutils.bool_from_string(force, strict=True), as Cinder's snapshot create uses.
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "t", "true", "on", "y", "yes"):
        return True
    if text in ("0", "f", "false", "off", "n", "no"):
        return False
    raise ApiError(400, f"Invalid value '{value}' for force.")


def _text(params: dict, key: str) -> str | None:
    value = params.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > 255):
        raise ApiError(
            400,
            f"Invalid input for field/attribute {key}. "
            "Value: must be a string of at most 255 characters.",
        )
    return value


def create_snapshot(call: Call) -> Reply:
    world = call.world
    body = call.json()
    params = body.get("snapshot") if isinstance(body, dict) else None
    if not isinstance(params, dict):
        raise ApiError(400, "Missing required element 'snapshot' in request body.")
    volume_id = params.get("volume_id")
    if not isinstance(volume_id, str) or not volume_id:
        raise ApiError(400, "'volume_id' must be specified")
    force = _force(params.get("force"))
    name = _text(params, "name") or _text(params, "display_name")
    description = _text(params, "description") or _text(params, "display_description")
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ApiError(400, "Invalid input received: metadata must be an object of strings")
    volume = world.project_volumes.get(call.params["project_id"], {}).get(volume_id)
    if volume is None:
        raise ApiError(404, f"Volume {volume_id} could not be found.")
    # cinder/volume/api.py `_create_snapshot`
    if not force and volume.status != "available":
        raise ApiError(
            400,
            f"Invalid volume: Volume {volume.id} status must be available, "
            f"but current status is: {volume.status}.",
        )
    if volume.status not in AT_REST:
        raise ApiError(
            400,
            f"Invalid volume: Volume {volume.id} status must be available or in-use, "
            f"but current status is: {volume.status}.",
        )
    snapshot = world.add_snapshot(
        volume, name=name, description=description, status=CREATING, metadata=dict(metadata)
    )
    world.schedule(
        snapshot.created_at + world.span(world.settings["snapshot_seconds"]), _ready, snapshot.id
    )
    return reply(call, 202, {"snapshot": snapshot_json(snapshot)})


def _ready(world: Any, due: float, snapshot_id: str) -> None:
    snapshot = world.snapshots.get(snapshot_id)
    if snapshot is not None and snapshot.status == CREATING:
        snapshot.status = AVAILABLE
        snapshot.updated_at = due


def show_snapshot(call: Call) -> Reply:
    return reply(call, 200, {"snapshot": snapshot_json(_snapshot(call))})


def _list(call: Call, detail: bool) -> Reply:
    world = call.world
    wanted = {key: call.arg(key) for key in FILTERS if call.arg(key) is not None}
    # Cinder's default order: created_at desc (newest first).
    ordered = list(reversed(world.project_snapshots.get(call.params["project_id"], {}).values()))
    page, page_size = cinder_page(
        call,
        ordered,
        lambda snapshot: all(getattr(snapshot, key) == value for key, value in wanted.items()),
    )
    body: dict[str, Any] = {"snapshots": [snapshot_json(s, extended=detail) for s in page]}
    if links := next_links(call, page, page_size):  # a full page links on, as for volumes
        body["snapshots_links"] = links
    return reply(call, 200, body)


def list_snapshots(call: Call) -> Reply:
    return _list(call, detail=False)


def list_snapshots_detail(call: Call) -> Reply:
    return _list(call, detail=True)


def delete_snapshot(call: Call) -> Reply:
    world = call.world
    snapshot = _snapshot(call)
    volume = world.volumes.get(snapshot.volume_id)
    restoring = volume is not None and (volume.restore or {}).get("snapshot_id") == snapshot.id
    if snapshot.status not in (AVAILABLE, "error") or restoring:
        raise ApiError(
            400,
            "Invalid snapshot: Volume Snapshot status must be available or error"
            + (", and no restore from it may be running." if restoring else "."),
        )
    snapshot.status = DELETING
    snapshot.updated_at = world.now()
    world.schedule(
        snapshot.updated_at + world.span(world.settings["snapshot_delete_seconds"]),
        _gone,
        snapshot.id,
    )
    return reply(call, 202, None)


def _gone(world: Any, due: float, snapshot_id: str) -> None:
    snapshot = world.snapshots.get(snapshot_id)
    if snapshot is not None and snapshot.status == DELETING:
        world.remove_snapshot(snapshot)


def snapshot_action(call: Call) -> Reply:
    body = call.json()
    if not isinstance(body, dict) or len(body) != 1:
        raise ApiError(400, "Malformed request body")
    (action,) = body
    snapshot = _snapshot(call)
    if action != "fcx-restore":
        raise ApiError(400, f"There is no such action: {action}")
    _restore(call.world, snapshot)
    # K5's page: 202 and headers only.
    return reply(call, 202, None)


def _restore(world: Any, snapshot: Snapshot) -> None:
    volume: Volume | None = world.volumes.get(snapshot.volume_id)
    if volume is None:
        raise ApiError(404, f"Volume {snapshot.volume_id} could not be found.")
    if snapshot.status != AVAILABLE:
        raise ApiError(
            409,
            f"Invalid snapshot: Snapshot {snapshot.id} status must be available, "
            f"but current status is: {snapshot.status}.",
        )
    if volume.status not in AT_REST:
        raise ApiError(
            409,
            f"Invalid volume: Volume {volume.id} status must be available or in-use, "
            f"but current status is: {volume.status}.",
        )
    for attachment in volume.attachments:
        server = world.servers.get(attachment.server_id)
        if server is not None and (server.status != "SHUTOFF" or server.task_state):
            doing = f" ({server.task_state})" if server.task_state else ""
            raise ApiError(
                409,
                f"Cannot restore volume {volume.id}: server {server.id} is "
                f"{server.status}{doing}; stop the server first.",
            )
    now = world.now()
    volume.restore = {
        "snapshot_id": snapshot.id,
        "content": snapshot.content,
        "previous_status": volume.status,
        "accepted_at": now,
    }
    volume.status = RESTORING
    volume.updated_at = now
    snapshot.restores.append(now)
    world.schedule(now + world.span(world.settings["restore_seconds"]), _restored, volume.id)


def _restored(world: Any, due: float, volume_id: str) -> None:
    volume = world.volumes.get(volume_id)
    if volume is None or volume.restore is None:
        return
    volume.content = volume.restore["content"]
    volume.status = volume.restore["previous_status"]
    volume.restore = None
    volume.updated_at = due


ROUTES = [
    route
    for v in (2, 3)
    for route in (
        Route("POST", f"/blockstorage/v{v}/{{project_id}}/snapshots", create_snapshot, VOLUME),
        Route("GET", f"/blockstorage/v{v}/{{project_id}}/snapshots", list_snapshots, VOLUME),
        Route(
            "GET",
            f"/blockstorage/v{v}/{{project_id}}/snapshots/detail",
            list_snapshots_detail,
            VOLUME,
        ),
        Route(
            "GET",
            f"/blockstorage/v{v}/{{project_id}}/snapshots/{{snapshot_id}}",
            show_snapshot,
            VOLUME,
        ),
        Route(
            "DELETE",
            f"/blockstorage/v{v}/{{project_id}}/snapshots/{{snapshot_id}}",
            delete_snapshot,
            VOLUME,
        ),
        Route(
            "POST",
            f"/blockstorage/v{v}/{{project_id}}/snapshots/{{snapshot_id}}/action",
            snapshot_action,
            VOLUME,
        ),
    )
]
