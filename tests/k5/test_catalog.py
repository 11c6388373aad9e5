"""Endpoints: by service type, then service name, then K5's endpoint-level name, in the
project's region and the public interface."""

from __future__ import annotations

import pytest

from imaging.k5 import K5EndpointNotFound, blockstorage, compute, image
from imaging.k5.catalog import Wanted, find_endpoint
from tests.support.demo import CENTOS_WEB, PROJECT_1, demo_scenario

BLOCK_V2 = Wanted(service_type="volumev2", name="blockstoragev2")


def service(name, kind, *endpoints) -> dict:
    return {"name": name, "type": kind, "endpoints": list(endpoints)}


def endpoint(url, *, region="jp-east-1", interface="public", name=None) -> dict:
    found = {"url": url, "region_id": region, "region": region, "interface": interface}
    if name:
        found["name"] = name
    return found


def test_on_an_openstack_style_catalog_the_service_type_finds_them(k5sim, make_client):
    client = make_client()

    found = {s: client.find_endpoint(s) for s in ("blockstorage", "image", "compute")}

    assert found["blockstorage"].url == f"{k5sim.base_url}/blockstorage/v2/{PROJECT_1}"
    assert found["blockstorage"].found_by == "service type 'volumev2'"
    assert found["image"].found_by == "service type 'image'"


def test_when_only_the_endpoint_names_are_k5s_they_are_used(k5sim, make_client):
    k5sim.reset(scenario={**demo_scenario(), "catalog": "k5-endpoint-names"})
    v2, v3 = make_client(), make_client(block_storage_version="v3")

    assert v2.find_endpoint("blockstorage").found_by == "endpoint name 'blockstoragev2'"
    assert v3.endpoint("blockstorage") == f"{k5sim.base_url}/blockstorage/v3/{PROJECT_1}"
    assert v2.endpoint("image") == f"{k5sim.base_url}/image"
    assert v2.find_endpoint("compute").found_by == "endpoint name 'compute'"
    assert blockstorage.volume_get(v2, CENTOS_WEB).id == CENTOS_WEB
    assert blockstorage.volume_get(v3, CENTOS_WEB).id == CENTOS_WEB
    assert image.image_list(v2, owner=PROJECT_1)
    assert compute.availability_zone_list(v2)


def test_a_type_shared_by_two_endpoints_gives_way_to_the_name():
    catalog = [
        service("blockstorage", "volumev2", endpoint("https://v1.example/")),
        service("blockstoragev2", "volumev2", endpoint("https://v2.example/")),
    ]

    found = find_endpoint(catalog, BLOCK_V2, region="jp-east-1")

    assert (found.url, found.found_by) == ("https://v2.example/", "service name 'blockstoragev2'")


def test_only_public_endpoints_of_the_region_count():
    catalog = [
        service(
            "storage",
            "block-storage",
            endpoint("https://internal.example/", interface="internal", name="blockstoragev2"),
            endpoint("https://uk.example/", region="uk-1", name="blockstoragev2"),
            endpoint("https://jp.example/", name="blockstoragev2"),
        )
    ]

    found = find_endpoint(catalog, BLOCK_V2, region="jp-east-1")

    assert (found.url, found.found_by) == ("https://jp.example/", "endpoint name 'blockstoragev2'")


@pytest.mark.parametrize(
    ("catalog", "reason"),
    [
        ([], "the catalog has no such endpoint in any region"),
        (
            [service("blockstoragev2", "volumev2", endpoint("https://uk/", region="uk-1"))],
            "such endpoints are only in: uk-1",
        ),
        (
            [
                service("a", "x", endpoint("https://one/", name="blockstoragev2")),
                service("b", "y", endpoint("https://two/", name="blockstoragev2")),
            ],
            "endpoint name 'blockstoragev2' gives 2 different URLs",
        ),
    ],
    ids=["empty", "other-region", "ambiguous"],
)
def test_nothing_found_says_what_was_searched(catalog, reason):
    with pytest.raises(K5EndpointNotFound) as raised:
        find_endpoint(catalog, BLOCK_V2, region="jp-east-1")

    message = str(raised.value)
    assert message.startswith(
        "no public endpoint in region 'jp-east-1' with service type 'volumev2', "
        "service name 'blockstoragev2' or endpoint name 'blockstoragev2'; "
    )
    assert message.endswith(reason)
    assert raised.value.permanent
