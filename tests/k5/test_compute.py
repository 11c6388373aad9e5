"""Servers (is the attached server stopped?) and availability zones."""

from __future__ import annotations

import pytest

from imaging.k5 import K5Conflict, K5NotFound, K5OutcomeUnknown, compute
from imaging.k5.types import SERVER_ACTIVE, SERVER_SHUTOFF, TASK_POWERING_OFF, TASK_POWERING_ON
from tests.support.demo import (
    BATCH_SERVER,
    CENTOS_APP_SERVER,
    FRONT_SERVER,
    P2_SERVER,
    PROJECT_1,
)

STOP_SECONDS, START_SECONDS = 20, 30  # the demo's settings


def _action_path(server_id: str) -> str:
    return f"/compute/v2/{PROJECT_1}/servers/{server_id}/action"


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


def test_it_stops_a_server_and_reads_the_task_state(k5sim, client):
    request_id = compute.server_stop(client, CENTOS_APP_SERVER)

    entry = k5sim.logged("POST", _action_path(CENTOS_APP_SERVER))[0]
    assert (request_id, entry["action"]) == (entry["request_id"], "os-stop")
    stopping = compute.server_get(client, CENTOS_APP_SERVER)
    assert (stopping.status, stopping.task_state) == (SERVER_ACTIVE, TASK_POWERING_OFF)
    k5sim.advance(STOP_SECONDS)
    stopped = compute.server_get(client, CENTOS_APP_SERVER)
    assert (stopped.status, stopped.task_state) == (SERVER_SHUTOFF, None)


def test_it_starts_a_server(k5sim, client):
    compute.server_start(client, BATCH_SERVER)

    starting = compute.server_get(client, BATCH_SERVER)
    assert (starting.status, starting.task_state) == (SERVER_SHUTOFF, TASK_POWERING_ON)
    k5sim.advance(START_SECONDS)
    assert compute.server_get(client, BATCH_SERVER).status == SERVER_ACTIVE
    starts = k5sim.control("GET", f"servers/{BATCH_SERVER}").json()["starts"]
    assert [(s["by"], s["content"]) for s in starts] == [("os-start", "original")]


def test_stopping_a_stopped_server_is_a_conflict_with_novas_message(k5sim, client):
    with pytest.raises(K5Conflict) as raised:
        compute.server_stop(client, BATCH_SERVER)

    assert raised.value.status == 409
    assert raised.value.message == (
        f"Cannot 'stop' instance {BATCH_SERVER} while it is in vm_state stopped"
    )
    assert raised.value.request_id
    assert len(k5sim.logged("POST", _action_path(BATCH_SERVER))) == 1


def test_an_injected_409_on_os_stop_reaches_the_caller(k5sim, client):
    k5sim.add_fault(kind="http", path="/servers/[^/]+/action$", action="os-stop", status=409)

    with pytest.raises(K5Conflict):
        compute.server_stop(client, CENTOS_APP_SERVER)

    assert compute.server_get(client, CENTOS_APP_SERVER).task_state is None, "nothing was done"


def test_a_timed_out_start_is_an_unknown_outcome_sent_once(k5sim, make_client):
    client = make_client(read_timeout=0.5)
    k5sim.add_fault(kind="http", path="/servers/[^/]+/action$", delay_answer=2)

    with pytest.raises(K5OutcomeUnknown):
        compute.server_start(client, BATCH_SERVER)

    assert len(k5sim.logged("POST", _action_path(BATCH_SERVER))) == 1
    assert compute.server_get(client, BATCH_SERVER).task_state == TASK_POWERING_ON
