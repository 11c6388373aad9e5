"""Snapshots and K5's fcx-restore through the facade, against the simulator."""

from __future__ import annotations

import math

import pytest

from imaging.k5 import (
    K5BadRequest,
    K5Conflict,
    K5NotFound,
    K5OutcomeUnknown,
    Snapshot,
    blockstorage,
    compute,
)
from imaging.k5.types import (
    SNAPSHOT_AVAILABLE,
    SNAPSHOT_CREATING,
    SNAPSHOT_DELETING,
    VOLUME_IN_USE,
    VOLUME_RESTORING,
)
from tests.support.demo import CENTOS_WEB, PROJECT_1, UBUNTU_APP, WIN_APP, WIN_APP_SERVER

SNAPSHOTS = f"/blockstorage/v2/{PROJECT_1}/snapshots"
SNAPSHOT_SECONDS, DELETE_SECONDS, RESTORE_SECONDS, STOP_SECONDS = 30, 5, 60, 20


def test_it_takes_a_snapshot_of_a_running_servers_volume(k5sim, client):
    snapshot = blockstorage.snapshot_create(
        client, WIN_APP, "before-sysprep", description="portal job 7"
    )

    assert isinstance(snapshot, Snapshot)
    assert (snapshot.volume_id, snapshot.name, snapshot.status, snapshot.size) == (
        WIN_APP,
        "before-sysprep",
        SNAPSHOT_CREATING,
        80,
    )
    assert snapshot.created_at is not None and snapshot.created_at.tzinfo is not None
    assert snapshot.request_id == k5sim.logged("POST", SNAPSHOTS)[0]["request_id"]
    k5sim.advance(SNAPSHOT_SECONDS)
    assert blockstorage.snapshot_get(client, snapshot.id).status == SNAPSHOT_AVAILABLE


def test_without_force_an_in_use_volume_is_refused(client):
    with pytest.raises(K5BadRequest) as raised:
        blockstorage.snapshot_create(client, WIN_APP, "nope", force=False)

    assert "in-use" in raised.value.message


def test_it_lists_snapshots_across_pages_and_by_volume_or_name(k5sim, make_client):
    client = make_client(page_size=2)
    for n in range(5):
        blockstorage.snapshot_create(client, CENTOS_WEB, f"web-{n}")
    blockstorage.snapshot_create(client, UBUNTU_APP, "app")
    k5sim.clear_requests()

    every = blockstorage.snapshot_list(client)
    web = blockstorage.snapshot_list(client, volume_id=CENTOS_WEB)
    named = blockstorage.snapshot_list(client, name="web-3")

    assert [s.name for s in every] == ["app", "web-4", "web-3", "web-2", "web-1", "web-0"]
    assert {s.volume_id for s in web} == {CENTOS_WEB} and len(web) == 5
    assert [(s.name, s.volume_id) for s in named] == [("web-3", CENTOS_WEB)]
    pages = k5sim.logged("GET", f"{SNAPSHOTS}/detail")
    # 6 + 5 + 1 snapshots at 2 a page; a full last page links to an empty one.
    assert len(pages) == (math.ceil(6 / 2) + 1) + (math.ceil(5 / 2)) + 1


def test_a_deleted_snapshot_is_not_found_once_gone(k5sim, client):
    snapshot = blockstorage.snapshot_create(client, CENTOS_WEB, "short-lived")
    k5sim.advance(SNAPSHOT_SECONDS)

    request_id = blockstorage.snapshot_delete(client, snapshot.id)

    assert request_id == k5sim.logged("DELETE", f"{SNAPSHOTS}/{snapshot.id}")[0]["request_id"]
    assert blockstorage.snapshot_get(client, snapshot.id).status == SNAPSHOT_DELETING
    k5sim.advance(DELETE_SECONDS)
    with pytest.raises(K5NotFound):
        blockstorage.snapshot_get(client, snapshot.id)
    with pytest.raises(K5NotFound):
        blockstorage.snapshot_delete(client, snapshot.id)
    assert blockstorage.snapshot_list(client, volume_id=CENTOS_WEB) == []


def test_a_creating_snapshot_cannot_be_deleted(client):
    snapshot = blockstorage.snapshot_create(client, CENTOS_WEB, "young")

    with pytest.raises(K5BadRequest):
        blockstorage.snapshot_delete(client, snapshot.id)


def test_the_restore_answers_headers_only_and_brings_the_disk_back(k5sim, client):
    snapshot = blockstorage.snapshot_create(client, WIN_APP, "before-sysprep")
    k5sim.advance(SNAPSHOT_SECONDS)
    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep", json={"after_seconds": 0})
    before = blockstorage.volume_get(client, WIN_APP)

    request_id = blockstorage.snapshot_restore(client, snapshot.id)

    entry = k5sim.logged("POST", f"{SNAPSHOTS}/{snapshot.id}/action")[0]
    assert request_id == entry["request_id"] and entry["action"] == "fcx-restore"
    busy = blockstorage.volume_get(client, WIN_APP)
    assert busy.status == VOLUME_RESTORING
    assert before.updated_at is not None and busy.updated_at > before.updated_at
    k5sim.advance(RESTORE_SECONDS)
    assert blockstorage.volume_get(client, WIN_APP).status == VOLUME_IN_USE
    assert k5sim.volume(WIN_APP)["content"] == "original"


def test_the_restore_is_refused_while_the_server_runs(k5sim, client):
    snapshot = blockstorage.snapshot_create(client, WIN_APP, "s")
    k5sim.advance(SNAPSHOT_SECONDS)

    with pytest.raises(K5Conflict) as raised:
        blockstorage.snapshot_restore(client, snapshot.id)

    assert raised.value.status == 409 and WIN_APP_SERVER in raised.value.message
    assert raised.value.request_id


def test_a_500_on_the_restore_is_an_unknown_outcome_and_is_not_resent(k5sim, client):
    snapshot = blockstorage.snapshot_create(client, WIN_APP, "s")
    k5sim.advance(SNAPSHOT_SECONDS)
    compute.server_stop(client, WIN_APP_SERVER)
    k5sim.advance(STOP_SECONDS)
    k5sim.add_fault(
        kind="http", path="/snapshots/[^/]+/action$", action="fcx-restore", status=500, acted=True
    )

    with pytest.raises(K5OutcomeUnknown) as raised:
        blockstorage.snapshot_restore(client, snapshot.id)

    assert raised.value.status == 500
    assert len(k5sim.logged("POST", f"{SNAPSHOTS}/{snapshot.id}/action")) == 1, "sent once"
    assert blockstorage.volume_get(client, WIN_APP).status == VOLUME_RESTORING


def test_snapshot_create_is_sent_once_on_a_500(k5sim, client):
    k5sim.add_fault(kind="http", method="POST", path="/snapshots$", status=502)

    with pytest.raises(K5OutcomeUnknown):
        blockstorage.snapshot_create(client, CENTOS_WEB, "once")

    assert len(k5sim.logged("POST", SNAPSHOTS)) == 1


def test_an_unreadable_2xx_to_snapshot_create_is_an_unknown_outcome(k5sim, client):
    k5sim.add_fault(kind="http", method="POST", path="/snapshots$", answer_html=202)

    with pytest.raises(K5OutcomeUnknown) as raised:
        blockstorage.snapshot_create(client, CENTOS_WEB, "behind-a-proxy")

    assert raised.value.status == 202
    taken = blockstorage.snapshot_list(client, name="behind-a-proxy")
    assert [s.volume_id for s in taken] == [CENTOS_WEB], "K5 took it: look before re-sending"
