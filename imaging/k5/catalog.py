"""Finding a service's endpoint in K5's Keystone v3 catalog.

K5 names its endpoints (`blockstoragev2`, `image`, `compute`, ...), and public K5 clients (an
Ansible `k5_auth` module, a PowerShell client) read that name from the *endpoint* entry, not
from the service around it: a catalog's service-level name and type may not be what an
OpenStack client expects. So a service is looked for three ways, in order, each limited to
the project's region and the `public` interface:

1. by service type (`volumev2`, `image`, `compute`),
2. by service name (K5's name),
3. by the endpoint-level `name` (K5's name again).

The first way that gives exactly one URL wins; one that gives several different URLs is
ambiguous and the next way is tried. Nothing found: K5EndpointNotFound saying what was
searched and in which regions those names exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import K5EndpointNotFound

INTERFACE = "public"


@dataclass(frozen=True)
class Wanted:
    """A service as the portal knows it: the usual OpenStack type and K5's name."""

    service_type: str
    name: str


@dataclass(frozen=True)
class Endpoint:
    url: str
    found_by: str  # e.g. "service type 'volumev2'", "endpoint name 'blockstoragev2'"


def find_endpoint(catalog: list[dict[str, Any]], wanted: Wanted, *, region: str) -> Endpoint:
    kind, name = wanted.service_type, wanted.name
    ways = (
        (f"service type {kind!r}", lambda service, _: service.get("type") == kind),
        (f"service name {name!r}", lambda service, _: service.get("name") == name),
        (f"endpoint name {name!r}", lambda _, endpoint: endpoint.get("name") == name),
    )
    ambiguous = []
    for description, matches in ways:
        urls = sorted(
            {
                endpoint["url"]
                for service, endpoint in _public_endpoints(catalog)
                if matches(service, endpoint) and _in_region(endpoint, region)
            }
        )
        if len(urls) == 1:
            return Endpoint(url=urls[0], found_by=description)
        if urls:
            ambiguous.append(f"{description} gives {len(urls)} different URLs")
    elsewhere = sorted(
        {
            _region_of(endpoint) or "?"
            for service, endpoint in _public_endpoints(catalog)
            if any(matches(service, endpoint) for _, matches in ways)
        }
    )
    searched = (
        f"no {INTERFACE} endpoint in region {region!r} with service type "
        f"{wanted.service_type!r}, service name {wanted.name!r} or endpoint name {wanted.name!r}"
    )
    if ambiguous:
        reason = "; ".join(ambiguous)
    elif elsewhere:
        reason = f"such endpoints are only in: {', '.join(elsewhere)}"
    else:
        reason = "the catalog has no such endpoint in any region"
    raise K5EndpointNotFound(f"{searched}; {reason}")


def _public_endpoints(catalog: list[dict[str, Any]]) -> Iterator[tuple[dict, dict]]:
    for service in catalog or ():
        if not isinstance(service, dict):
            continue
        for endpoint in service.get("endpoints") or ():
            if (
                isinstance(endpoint, dict)
                and endpoint.get("interface") == INTERFACE
                and endpoint.get("url")
            ):
                yield service, endpoint


def _region_of(endpoint: dict[str, Any]) -> str | None:
    return endpoint.get("region_id") or endpoint.get("region")


def _in_region(endpoint: dict[str, Any], region: str) -> bool:
    return region in (endpoint.get("region_id"), endpoint.get("region"))
