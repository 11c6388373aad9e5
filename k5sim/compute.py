"""Compute v2 (Nova): servers (to know whether an attached volume's OS is stopped) and zones."""

from __future__ import annotations

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
        "OS-EXT-STS:task_state": None,
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
    Route(
        "GET",
        "/compute/v2/{project_id}/servers/{server_id}/os-volume_attachments",
        volume_attachments,
        COMPUTE,
    ),
    Route("GET", "/compute/v2/{project_id}/os-availability-zone", availability_zones, COMPUTE),
]
