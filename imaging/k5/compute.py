"""Compute (Nova v2, catalog name `compute`): the servers volumes are attached to, and the
region's availability zones."""

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


def availability_zone_list(client: K5Client) -> list[AvailabilityZone]:
    """The region's availability zones, as Nova reports them."""
    path = "os-availability-zone"
    reply = client.get(COMPUTE, path)
    with parsing(path, reply.request_id):
        return [AvailabilityZone(name=zone["zoneName"],
                                 available=bool((zone.get("zoneState") or {}).get("available")))
                for zone in reply.body["availabilityZoneInfo"]]
