"""Compute v2 (Nova): servers (is an attached volume's OS stopped?), their power actions
(os-stop, os-start: see power.py) and zones."""

from __future__ import annotations

from . import power
from .clock import zulu_time
from .errors import COMPUTE, ApiError
from .model import Server
from .web import Call, Reply, Route

POWER_STATES = {"ACTIVE": 1, "SHUTOFF": 4, "PAUSED": 3, "SUSPENDED": 7}
VM_STATES = {
    "ACTIVE": "active",
    "SHUTOFF": "stopped",
    "ERROR": "error",
    "BUILD": "building",
    "PAUSED": "paused",
    "SUSPENDED": "suspended",
    "REBOOT": "active",
}


def _links(call: Call, server: Server) -> list[dict]:
    pid = server.project_id
    return [
        {"rel": "self", "href": call.url(f"/compute/v2/{pid}/servers/{server.id}")},
        {"rel": "bookmark", "href": call.url(f"/compute/{pid}/servers/{server.id}")},
    ]


def server_json(call: Call, server: Server) -> dict:
    return {
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "created": zulu_time(server.created_at),
        "updated": zulu_time(server.updated_at),
        "hostId": "",
        "image": "",  # booted from a volume
        "flavor": {
            "id": "1101",
            "links": [
                {"rel": "bookmark", "href": call.url(f"/compute/{server.project_id}/flavors/1101")}
            ],
        },
        "addresses": {},
        "metadata": {},
        "key_name": None,
        "accessIPv4": "",
        "accessIPv6": "",
        "config_drive": "",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": server.availability_zone,
        "OS-EXT-STS:vm_state": VM_STATES.get(server.status, "active"),
        "OS-EXT-STS:power_state": POWER_STATES.get(server.status, 0),
        "OS-EXT-STS:task_state": server.task_state,
        "OS-DCF:diskConfig": "MANUAL",
        "os-extended-volumes:volumes_attached": [
            {"id": volume_id} for volume_id in server.volume_ids
        ],
        "links": _links(call, server),
    }


def _servers(call: Call) -> list[Server]:
    servers = call.world.project_servers.get(call.params["project_id"], {}).values()
    wanted = {key: call.arg(key) for key in ("name", "status") if call.arg(key)}
    return [s for s in servers if all(getattr(s, key) == value for key, value in wanted.items())]


def list_servers(call: Call) -> Reply:
    return Reply(
        200,
        {
            "servers": [
                {"id": s.id, "name": s.name, "links": _links(call, s)} for s in _servers(call)
            ]
        },
    )


def list_servers_detail(call: Call) -> Reply:
    return Reply(200, {"servers": [server_json(call, s) for s in _servers(call)]})


def _server(call: Call) -> Server:
    server_id = call.params["server_id"]
    server = call.world.project_servers.get(call.params["project_id"], {}).get(server_id)
    if server is None:
        raise ApiError(404, f"Instance {server_id} could not be found.")
    return server


def show_server(call: Call) -> Reply:
    return Reply(200, {"server": server_json(call, _server(call))})


def server_action(call: Call) -> Reply:
    """os-stop / os-start. Nova answers 202 with no body; the change takes a while."""
    body = call.json()
    if not isinstance(body, dict) or len(body) != 1:
        raise ApiError(400, "Malformed request body")
    (action,) = body
    server = _server(call)
    if action == "os-stop":
        _check_state(server, "stop", allowed=("ACTIVE", "ERROR"))
        power.stop(call.world, server)
    elif action == "os-start":
        _check_state(server, "start", allowed=("SHUTOFF",))
        power.start(call.world, server)
    else:
        raise ApiError(400, f"There is no such action: {action}")
    return Reply(202, None)


def _check_state(server: Server, verb: str, allowed: tuple[str, ...]) -> None:
    # nova/compute/api.py check_instance_state: vm_state first, then task_state (None only).
    if server.status not in allowed:
        state = f"vm_state {VM_STATES.get(server.status, server.status.lower())}"
    elif server.task_state is not None:
        state = f"task_state {server.task_state}"
    else:
        return
    raise ApiError(409, f"Cannot '{verb}' instance {server.id} while it is in {state}")


def volume_attachments(call: Call) -> Reply:
    server = _server(call)
    volumes = call.world.volumes
    attachments = []
    for volume_id in server.volume_ids:
        for attachment in volumes[volume_id].attachments:
            if attachment.server_id == server.id:
                attachments.append(
                    {
                        "id": volume_id,
                        "volumeId": volume_id,
                        "serverId": server.id,
                        "device": attachment.device,
                    }
                )
    return Reply(200, {"volumeAttachments": attachments})


def availability_zones(call: Call) -> Reply:
    return Reply(
        200,
        {
            "availabilityZoneInfo": [
                {"zoneName": zone, "zoneState": {"available": True}, "hosts": None}
                for zone in call.world.zones
            ]
        },
    )


ROUTES = [
    Route("GET", "/compute/v2/{project_id}/servers", list_servers, COMPUTE),
    Route("GET", "/compute/v2/{project_id}/servers/detail", list_servers_detail, COMPUTE),
    Route("GET", "/compute/v2/{project_id}/servers/{server_id}", show_server, COMPUTE),
    Route("POST", "/compute/v2/{project_id}/servers/{server_id}/action", server_action, COMPUTE),
    Route(
        "GET",
        "/compute/v2/{project_id}/servers/{server_id}/os-volume_attachments",
        volume_attachments,
        COMPUTE,
    ),
    Route("GET", "/compute/v2/{project_id}/os-availability-zone", availability_zones, COMPUTE),
]
