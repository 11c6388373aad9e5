"""Compute (Nova v2, catalog name `compute`): the servers volumes are attached to, their
power (os-stop / os-start), and the region's availability zones."""

from __future__ import annotations

from urllib.parse import quote

from .client import COMPUTE, K5Client, parsing
from .types import AvailabilityZone, Server


def server_get(client: K5Client, server_id: str) -> Server:
    """One server (status ACTIVE, SHUTOFF, ...); K5NotFound if it does not exist."""
    path = f"servers/{quote(server_id, safe='')}"
    reply = client.get(COMPUTE, path)
    with parsing(path, reply.request_id):
        return Server.from_api(reply.body["server"], reply.request_id)


def server_stop(client: K5Client, server_id: str) -> str | None:
    """Ask Nova to stop the server (os-stop); returns the request id. Nova answers 202 at
    once: the server stays ACTIVE with task_state TASK_POWERING_OFF until it is SHUTOFF.
    K5Conflict (409) when it is not running or a task is under way; K5OutcomeUnknown when
    it may have been taken without a usable answer (never re-sent here)."""
    return _power(client, server_id, "os-stop")


def server_start(client: K5Client, server_id: str) -> str | None:
    """Ask Nova to start the server (os-start); returns the request id. It stays SHUTOFF with
    task_state TASK_POWERING_ON until it is ACTIVE. K5Conflict (409) when it is not stopped
    or a task is under way."""
    return _power(client, server_id, "os-start")


def _power(client: K5Client, server_id: str, action: str) -> str | None:
    path = f"servers/{quote(server_id, safe='')}/action"
    return client.post(COMPUTE, path, json={action: None}).request_id


def server_list(client: K5Client) -> list[Server]:
    """Every server of the project (all pages): one call where a page of volumes needs the
    power state of the servers they are attached to."""
    path = "servers/detail"
    servers = []
    for item, request_id in client.get_pages(
        COMPUTE, path, collection="servers", next_href=_next_href
    ):
        with parsing(path, request_id):
            servers.append(Server.from_api(item, request_id))
    return servers


def _next_href(body: dict) -> str | None:
    for link in body.get("servers_links") or ():
        if link.get("rel") == "next":
            return link.get("href")
    return None


def availability_zone_list(client: K5Client) -> list[AvailabilityZone]:
    """The region's availability zones, as Nova reports them."""
    path = "os-availability-zone"
    reply = client.get(COMPUTE, path)
    with parsing(path, reply.request_id):
        return [
            AvailabilityZone(
                name=zone["zoneName"],
                available=bool((zone.get("zoneState") or {}).get("available")),
            )
            for zone in reply.body["availabilityZoneInfo"]
        ]
