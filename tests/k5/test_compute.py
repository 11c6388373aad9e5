"""Servers (is the attached server stopped?) and availability zones."""

from __future__ import annotations

import pytest

from imaging.k5 import K5NotFound, compute
from tests.support.demo import BATCH_SERVER, FRONT_SERVER, P2_SERVER, PROJECT_1


def test_it_reads_a_stopped_and_a_running_server(k5sim, client):
    stopped = compute.server_get(client, BATCH_SERVER)
    running = compute.server_get(client, FRONT_SERVER)

    assert (stopped.name, stopped.status, stopped.availability_zone) == (
        "batch-01",
        "SHUTOFF",
        "jp-east-1a",
    )
    assert (running.name, running.status, running.availability_zone) == (
        "front-01",
        "ACTIVE",
        "jp-east-1b",
    )
    entry = k5sim.logged("GET", f"/compute/v2/{PROJECT_1}/servers/{BATCH_SERVER}")[0]
    assert stopped.request_id == entry["request_id"]


def test_another_projects_server_is_not_found(client):
    with pytest.raises(K5NotFound) as raised:
        compute.server_get(client, P2_SERVER)
    assert raised.value.message and raised.value.request_id


def test_it_lists_the_regions_availability_zones(client):
    zones = compute.availability_zone_list(client)

    assert sorted((z.name, z.available) for z in zones) == [
        ("jp-east-1a", True),
        ("jp-east-1b", True),
    ]
