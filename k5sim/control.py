"""The `/_sim/` control interface: reset, inspect, move time, inject faults, seed data.

No authentication: it is a loopback test tool. Its calls are not in the request log.
"""

from __future__ import annotations

from typing import Any

from . import power, scenario, uploads
from .clock import zulu_time
from .errors import CONTROL, ApiError
from .faults import FaultError
from .model import Image, Server, Snapshot, Upload, Volume
from .web import Call, Reply, Route

MAX_BULK = 100_000
PATCH_TYPES = {
    "name": str,
    "bootable": bool,
    "description": (str, type(None)),
    "metadata": dict,
    "volume_image_metadata": (dict, type(None)),
    "content": str,
}


def _body(call: Call) -> dict[str, Any]:
    if not call.body.strip():
        return {}
    body = call.json("The body must be a JSON object")
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object")
    return body


def _number(
    body: dict, key: str, default: float | None, minimum: float = 0, integer: bool = False
) -> Any:
    value = body.get(key, default)
    wrong_type = isinstance(value, bool) or not isinstance(value, int if integer else int | float)
    if wrong_type or value < minimum:
        kind = "an integer" if integer else "a number"
        raise ApiError(400, f"'{key}' must be {kind} >= {minimum}")
    return value


def health(call: Call) -> Reply:
    return Reply(200, {"ok": True})


def reset(call: Call) -> Reply:
    body = _body(call)
    app = call.app
    speed = app.initial_speed
    if body.get("speed") is not None:
        speed = _number(body, "speed", None, minimum=1e-9)
    chosen = app.initial_scenario
    if body.get("scenario") == "demo":
        chosen = scenario.demo()
    elif body.get("scenario") is not None:
        try:
            chosen = scenario.parse(body["scenario"])
        except scenario.ScenarioError as error:
            raise ApiError(400, f"Invalid scenario: {error}") from None
    release = body.get("glance_release")
    if release is not None and release not in scenario.GLANCE_RELEASES:
        raise ApiError(
            400, f"'glance_release' must be one of {', '.join(scenario.GLANCE_RELEASES)}"
        )
    if release is not None:
        chosen = {**chosen, "glance_release": release}
    call.world.reset(chosen, speed, app.initial_glance_release)
    app.log.clear()
    return Reply(
        200,
        {
            "ok": True,
            "speed": speed,
            "glance_release": call.world.glance_release,
            "now": zulu_time(call.world.now()),
        },
    )


def advance(call: Call) -> Reply:
    seconds = _number(_body(call), "seconds", None)
    call.world.advance(seconds)
    return clock(call)


def clock(call: Call) -> Reply:
    world = call.world
    return Reply(
        200,
        {
            "now": zulu_time(world.now()),
            "speed": world.clock.speed,
            "offset_seconds": world.clock.offset,
        },
    )


def state(call: Call) -> Reply:
    world = call.world
    now = world.now()
    rate = {}
    for project_id in world.projects:
        wait = uploads.retry_after(world, project_id)
        rate[project_id] = {
            "accepted_in_window": len(world.upload_times.get(project_id, [])),
            "retry_after_seconds": wait,
        }
    return Reply(
        200,
        {
            "now": zulu_time(now),
            "speed": world.clock.speed,
            "offset_seconds": world.clock.offset,
            "region": world.region,
            "glance_release": world.glance_release,
            "catalog": world.catalog_style,
            "zones": [{"name": z, "image_server": world.image_servers[z]} for z in world.zones],
            "settings": dict(world.settings),
            "domains": [vars(d).copy() for d in world.domains.values()],
            "projects": [vars(p).copy() for p in world.projects.values()],
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "domain_id": u.domain_id,
                    "project_ids": list(u.project_ids),
                    "project_roles": {p: list(r) for p, r in u.project_roles.items() if r},
                    "roles": list(u.roles),
                    "recent_failed_logins": len(world.failed_logins.get(u.id, ())),
                    "locked_until": zulu_time(world.locked_until[u.id])
                    if world.locked_until.get(u.id, 0) > now
                    else None,
                }
                for u in world.users.values()
            ],
            "volumes": [_volume_state(v) for v in world.volumes.values()],
            "servers": [_server_state(world, s) for s in world.servers.values()],
            "images": [_image_state(i) for i in world.images.values()],
            "snapshots": [_snapshot_state(s) for s in world.snapshots.values()],
            "uploads": [_upload_state(u) for u in world.uploads.values()],
            "rate_limit": rate,
            "faults": world.faults.describe(),
            "tokens": len(world.tokens),
            "pending_events": world.pending_events(),
        },
    )


def _volume_state(volume: Volume) -> dict[str, Any]:
    return {
        "id": volume.id,
        "project_id": volume.project_id,
        "name": volume.name,
        "status": volume.status,
        "size": volume.size,
        "availability_zone": volume.availability_zone,
        "bootable": volume.bootable,
        "volume_type": volume.volume_type,
        "description": volume.description,
        "volume_image_metadata": volume.volume_image_metadata,
        "attachments": [{"server_id": a.server_id, "device": a.device} for a in volume.attachments],
        "upload_id": volume.upload_id,
        "content": volume.content,
        "restoring_from": (volume.restore or {}).get("snapshot_id"),
        "created_at": zulu_time(volume.created_at),
        "updated_at": zulu_time(volume.updated_at),
    }


def _server_state(world: Any, server: Server) -> dict[str, Any]:
    system = world.system_volume(server)
    return {
        "id": server.id,
        "project_id": server.project_id,
        "name": server.name,
        "status": server.status,
        "task_state": server.task_state,
        "availability_zone": server.availability_zone,
        "volume_ids": list(server.volume_ids),
        "system_volume_id": system.id if system else None,
        "volumes": [
            {"id": v.id, "status": v.status, "content": v.content}
            for v in (world.volumes[i] for i in server.volume_ids if i in world.volumes)
        ],
        "starts": [dict(start) for start in server.starts],
        "stops": [dict(stop) for stop in server.stops],
        "updated_at": zulu_time(server.updated_at),
    }


def _snapshot_state(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "project_id": snapshot.project_id,
        "volume_id": snapshot.volume_id,
        "name": snapshot.name,
        "status": snapshot.status,
        "size": snapshot.size,
        "content": snapshot.content,
        "restores": [zulu_time(at) for at in snapshot.restores],
        "created_at": zulu_time(snapshot.created_at),
        "updated_at": zulu_time(snapshot.updated_at),
    }


def _image_state(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "name": image.name,
        "owner": image.owner,
        "status": image.status,
        "visibility": image.visibility,
        "protected": image.protected,
        "size": image.size,
        "properties": dict(image.properties),
        "origin_zone": image.origin_zone,
        "zone_sync": {
            zone: {
                **entry,
                "due_at": zulu_time(entry.get("due_at")),
                "done_at": zulu_time(entry.get("done_at")),
            }
            for zone, entry in image.zone_sync.items()
        },
        "created_at": zulu_time(image.created_at),
        "updated_at": zulu_time(image.updated_at),
    }


def _upload_state(upload: Upload) -> dict[str, Any]:
    return {
        **vars(upload),
        "accepted_at": zulu_time(upload.accepted_at),
        "ends_at": zulu_time(upload.ends_at),
        "finished_at": zulu_time(upload.finished_at),
        "token_expires_at": zulu_time(upload.token_expires_at),
    }


def add_fault(call: Call) -> Reply:
    world = call.world
    try:
        fault = world.faults.add(_body(call), world.zones)
    except FaultError as error:
        raise ApiError(400, str(error)) from None
    if fault.kind == "volume_vanish":
        uploads.arm_vanish(world, fault.spec["volume_id"])
    return Reply(201, fault.describe())


def list_faults(call: Call) -> Reply:
    return Reply(200, {"faults": call.world.faults.describe()})


def clear_faults(call: Call) -> Reply:
    call.world.faults.clear()
    return Reply(204)


def request_log(call: Call) -> Reply:
    return Reply(200, {"requests": call.app.log.entries()})


def request_counts(call: Call) -> Reply:
    return Reply(200, call.app.log.counts())


def clear_request_log(call: Call) -> Reply:
    call.app.log.clear()
    return Reply(204)


def bulk_volumes(call: Call) -> Reply:
    world = call.world
    ref = call.params["project_id"]
    project = world.projects.get(ref) or next(
        (p for p in world.projects.values() if p.name == ref), None
    )
    if project is None:
        raise ApiError(404, f"Unknown project {ref}")
    body = _body(call)
    count = _number(body, "count", 1, minimum=1, integer=True)
    if count > MAX_BULK:
        raise ApiError(400, f"'count' must be at most {MAX_BULK}")
    size = _number(body, "size", 10, minimum=1, integer=True)
    status = body.get("status", "available")
    if status not in scenario.VOLUME_STATUSES - {"uploading", "in-use"}:
        raise ApiError(
            400,
            "'status' must be a Cinder volume status other than "
            "uploading and in-use (attachments need a server)",
        )
    prefix = body.get("name_prefix", "bulk-")
    zone = body.get("availability_zone")
    if not isinstance(prefix, str) or (zone is not None and zone not in world.zones):
        raise ApiError(
            400,
            f"'name_prefix' must be a string and 'availability_zone' one of "
            f"{', '.join(world.zones)}",
        )
    image_meta = _os_metadata(world, body.get("os"))
    volume_type = body.get("volume_type")
    if volume_type is not None and volume_type not in world.volume_types:
        raise ApiError(400, f"Unknown volume_type {volume_type!r}")
    ids = []
    for n in range(count):
        volume = world.add_volume(
            project_id=project.id,
            name=f"{prefix}{n + 1:05d}",
            size=size,
            status=status,
            availability_zone=zone or world.zones[n % len(world.zones)],
            volume_type=volume_type,
            bootable=image_meta is not None,
            volume_image_metadata=dict(image_meta) if image_meta else None,
        )
        ids.append(volume.id)
    return Reply(201, {"count": count, "ids": ids})


def _os_metadata(world: Any, os_key: Any) -> dict[str, str] | None:
    if os_key is None:
        return None
    if os_key not in world.os_catalog:
        raise ApiError(400, f"'os' must be null or one of {', '.join(world.os_catalog)}")
    return world.os_catalog[os_key]


def patch_volume(call: Call) -> Reply:
    world = call.world
    volume = world.volumes.get(call.params["volume_id"])
    if volume is None:
        raise ApiError(404, f"Volume {call.params['volume_id']} could not be found.")
    body = _body(call)
    allowed = {
        "status",
        "name",
        "size",
        "availability_zone",
        "bootable",
        "description",
        "metadata",
        "volume_image_metadata",
        "os",
        "content",
    }
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"Cannot set {unknown[0]!r}; settable: {', '.join(sorted(allowed))}")
    if "status" in body and body["status"] not in scenario.VOLUME_STATUSES:
        raise ApiError(400, f"Unknown volume status {body['status']!r}")
    if "availability_zone" in body and body["availability_zone"] not in world.zones:
        raise ApiError(400, f"Unknown availability zone {body['availability_zone']!r}")
    if "size" in body:
        _number(body, "size", None, minimum=1, integer=True)
    for key, types in PATCH_TYPES.items():
        if key in body and not isinstance(body[key], types):
            raise ApiError(400, f"'{key}' has the wrong type")
    if "os" in body:
        meta = _os_metadata(world, body.pop("os"))
        volume.volume_image_metadata = dict(meta) if meta else None
        volume.bootable = meta is not None
    for key, value in body.items():
        setattr(volume, key, value)
    volume.updated_at = world.now()
    return Reply(200, _volume_state(volume))


def delete_volume(call: Call) -> Reply:
    world = call.world
    volume = world.volumes.get(call.params["volume_id"])
    if volume is None:
        raise ApiError(404, f"Volume {call.params['volume_id']} could not be found.")
    uploads.vanish_volume(world, volume, world.now())
    return Reply(204)


def patch_user(call: Call) -> Reply:
    """A person changes the user's password in K5. Keystone then revokes the user's tokens
    (identity core's update_user emits a revocation for a password change), so a client still
    holding one gets 401 from every service and must sign in with the new password."""
    world = call.world
    ref = call.params["user_id"]
    user = world.users.get(ref)
    if user is None:
        named = [u for u in world.users.values() if u.name == ref]
        if len(named) > 1:
            raise ApiError(400, f"Several users are named {ref!r}; give the user's id")
        user = named[0] if named else None
    if user is None:
        raise ApiError(404, f"Unknown user {ref}")
    body = _body(call)
    unknown = sorted(set(body) - {"password"})
    if unknown:
        raise ApiError(400, f"Cannot set {unknown[0]!r}; settable: password")
    password = body.get("password")
    if not isinstance(password, str) or not password:
        raise ApiError(400, "'password' must be a non-empty string")
    user.password = password
    revoked = _revoke_tokens(world, user.id)
    return Reply(200, {"id": user.id, "name": user.name, "revoked_tokens": revoked})


def revoke_tokens(call: Call) -> Reply:
    """Every token is revoked (a Keystone whose tokens were flushed): the next call of every
    client gets 401."""
    return Reply(200, {"revoked_tokens": _revoke_tokens(call.world, None)})


def _revoke_tokens(world: Any, user_id: str | None) -> int:
    doomed = [t.id for t in world.tokens.values() if user_id in (None, t.user_id)]
    for token_id in doomed:
        del world.tokens[token_id]
    return len(doomed)


def patch_server(call: Call) -> Reply:
    world = call.world
    server = world.servers.get(call.params["server_id"])
    if server is None:
        raise ApiError(404, f"Server {call.params['server_id']} could not be found.")
    body = _body(call)
    unknown = sorted(set(body) - {"status", "name"})
    if unknown:
        raise ApiError(400, f"Cannot set {unknown[0]!r}; settable: name, status")
    if "status" in body and body["status"] not in scenario.SERVER_STATUSES:
        raise ApiError(400, f"'status' must be one of {', '.join(scenario.SERVER_STATUSES)}")
    if "name" in body and not isinstance(body["name"], str):
        raise ApiError(400, "'name' must be a string")
    now = world.now()
    if body.get("status", server.status) != server.status:
        # A person starting or stopping the server outside the portal: a start is recorded
        # like any other, with the disk it boots on.
        if body["status"] == "ACTIVE":
            power.record_start(world, server, now, "control")
        elif server.status == "ACTIVE":
            power.record_stop(server, now, "control")
        server.task_state = None
    for key, value in body.items():
        setattr(server, key, value)
    server.updated_at = now
    return Reply(200, _server_state(world, server))


def _control_server(call: Call) -> Server:
    server = call.world.servers.get(call.params["server_id"])
    if server is None:
        raise ApiError(404, f"Server {call.params['server_id']} could not be found.")
    return server


def show_server(call: Call) -> Reply:
    return Reply(200, _server_state(call.world, _control_server(call)))


def sysprep(call: Call) -> Reply:
    """Sysprep runs in the guest with /generalize /shutdown: the system volume becomes
    `generalized` now, and the server powers itself off after `after_seconds` (default:
    the `sysprep_shutdown_seconds` setting)."""
    return _shut_down(call, sysprep=True)


def power_off(call: Call) -> Reply:
    """The guest shuts itself down (no change to its disks), after `after_seconds` (0)."""
    return _shut_down(call, sysprep=False)


def _shut_down(call: Call, *, sysprep: bool) -> Reply:
    world = call.world
    server = _control_server(call)
    body = _body(call)
    unknown = sorted(set(body) - {"after_seconds"})
    if unknown:
        raise ApiError(400, f"Unknown key {unknown[0]!r}; allowed: after_seconds")
    default = world.settings["sysprep_shutdown_seconds"] if sysprep else 0
    after = _number(body, "after_seconds", default)
    if server.status != "ACTIVE" or server.task_state is not None:
        raise ApiError(
            409, f"Server {server.id} is {server.status} (task {server.task_state}): not running"
        )
    if sysprep and world.system_volume(server) is None:
        raise ApiError(409, f"Server {server.id} has no system volume to generalize")
    power.shut_down_from_inside(world, server, after, sysprep=sysprep)
    return Reply(202, _server_state(world, server))


def grant_role(call: Call) -> Reply:
    """An administrator gives the user a role in a project (Keystone's
    PUT /v3/projects/{project_id}/users/{user_id}/roles/{role_id})."""
    user, project = _user_and_project(call)
    roles = user.project_roles.setdefault(project.id, [])
    if call.params["role"] not in roles:
        roles.append(call.params["role"])
    return Reply(200, _assignment(user, project))


def revoke_role(call: Call) -> Reply:
    """An administrator takes the role away. As in Keystone, the user's tokens scoped to the
    project stop working at once; without any role left the project is no longer theirs."""
    world = call.world
    user, project = _user_and_project(call)
    roles = user.project_roles.get(project.id, [])
    if call.params["role"] not in roles:
        raise ApiError(
            404, f"User {user.name} has no role {call.params['role']!r} in {project.name}"
        )
    roles.remove(call.params["role"])
    if not roles:
        del user.project_roles[project.id]
    doomed = [
        t.id for t in world.tokens.values() if t.user_id == user.id and t.project_id == project.id
    ]
    for token_id in doomed:
        del world.tokens[token_id]
    return Reply(200, _assignment(user, project))


def _user_and_project(call: Call) -> tuple[Any, Any]:
    world = call.world
    user_ref, project_ref = call.params["user_id"], call.params["project_id"]
    users = [u for u in world.users.values() if user_ref in (u.id, u.name)]
    if len(users) != 1:
        raise ApiError(
            404 if not users else 400, f"Unknown or ambiguous user {user_ref}; give its id"
        )
    project = world.projects.get(project_ref) or next(
        (p for p in world.projects.values() if p.name == project_ref), None
    )
    if project is None:
        raise ApiError(404, f"Unknown project {project_ref}")
    return users[0], project


def _assignment(user: Any, project: Any) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "project_id": project.id,
        "roles": list(user.project_roles.get(project.id, [])),
    }


ROUTES = [
    Route("GET", "/_sim/health", health, CONTROL, auth=False),
    Route("POST", "/_sim/reset", reset, CONTROL, auth=False),
    Route("GET", "/_sim/state", state, CONTROL, auth=False),
    Route("GET", "/_sim/clock", clock, CONTROL, auth=False),
    Route("POST", "/_sim/clock/advance", advance, CONTROL, auth=False),
    Route("POST", "/_sim/faults", add_fault, CONTROL, auth=False),
    Route("GET", "/_sim/faults", list_faults, CONTROL, auth=False),
    Route("DELETE", "/_sim/faults", clear_faults, CONTROL, auth=False),
    Route("GET", "/_sim/requests", request_log, CONTROL, auth=False),
    Route("GET", "/_sim/requests/counts", request_counts, CONTROL, auth=False),
    Route("DELETE", "/_sim/requests", clear_request_log, CONTROL, auth=False),
    Route("POST", "/_sim/projects/{project_id}/volumes", bulk_volumes, CONTROL, auth=False),
    Route("PATCH", "/_sim/volumes/{volume_id}", patch_volume, CONTROL, auth=False),
    Route("DELETE", "/_sim/volumes/{volume_id}", delete_volume, CONTROL, auth=False),
    Route("PATCH", "/_sim/servers/{server_id}", patch_server, CONTROL, auth=False),
    Route("GET", "/_sim/servers/{server_id}", show_server, CONTROL, auth=False),
    Route("POST", "/_sim/servers/{server_id}/sysprep", sysprep, CONTROL, auth=False),
    Route("POST", "/_sim/servers/{server_id}/power-off", power_off, CONTROL, auth=False),
    Route(
        "PUT",
        "/_sim/users/{user_id}/projects/{project_id}/roles/{role}",
        grant_role,
        CONTROL,
        auth=False,
    ),
    Route(
        "DELETE",
        "/_sim/users/{user_id}/projects/{project_id}/roles/{role}",
        revoke_role,
        CONTROL,
        auth=False,
    ),
    Route("PATCH", "/_sim/users/{user_id}", patch_user, CONTROL, auth=False),
    Route("DELETE", "/_sim/tokens", revoke_tokens, CONTROL, auth=False),
]
