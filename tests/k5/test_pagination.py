"""Pagination that survives what a real cloud's next links may look like."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

import pytest

from imaging.k5 import K5InvalidResponse, blockstorage
from tests.k5.proxy import TamperingProxy
from tests.support.demo import CENTOS_WEB, PROJECT_1

LIST_PATH = f"/blockstorage/v2/{PROJECT_1}/volumes/detail"


def _rewrite_next(build_href):
    def tamper(path: str, body: dict) -> dict:
        for link in body.get("volumes_links") or ():
            if link.get("rel") == "next":
                link["href"] = build_href(link["href"])
        return body

    return tamper


def _through(proxy, k5sim, make_client, **overrides):
    return make_client(auth_url=k5sim.auth_url.replace(k5sim.base_url, proxy.url), **overrides)


def _project_volume_count(k5sim) -> int:
    return sum(1 for v in k5sim.state()["volumes"] if v["project_id"] == PROJECT_1)


@pytest.mark.parametrize(
    "build_href",
    [
        # K5's link names a host only K5's own network can reach.
        lambda href: (
            "http://blockstorage.internal.invalid:8776"
            + urlsplit(href).path
            + "?"
            + urlsplit(href).query
        ),
        # A relative link.
        lambda href: "volumes/detail?" + urlsplit(href).query,
    ],
    ids=["internal-host", "relative"],
)
def test_it_follows_next_links_through_the_catalog_endpoint(k5sim, make_client, build_href):
    with TamperingProxy(k5sim.base_url, _rewrite_next(build_href)) as proxy:
        client = _through(proxy, k5sim, make_client, page_size=5)
        volumes = blockstorage.volume_list(client)

    total = _project_volume_count(k5sim)
    assert len({v.id for v in volumes}) == len(volumes) == total
    assert len(k5sim.logged("GET", LIST_PATH)) == math.ceil(total / 5)


def test_a_marker_that_never_advances_stops_the_listing(k5sim, make_client):
    def always_next(path: str, body: dict) -> dict:
        if "volumes" in body:
            body["volumes_links"] = [
                {"rel": "next", "href": f"{LIST_PATH}?limit=5&marker={CENTOS_WEB}"}
            ]
        return body

    with TamperingProxy(k5sim.base_url, always_next) as proxy:
        client = _through(proxy, k5sim, make_client, page_size=5)
        with pytest.raises(K5InvalidResponse) as raised:
            blockstorage.volume_list(client)

    assert "marker" in raised.value.message
    assert len(k5sim.logged("GET", LIST_PATH)) == 2
