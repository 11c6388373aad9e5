"""Cinder snapshots and K5's fcx-restore, as a client sees them."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.k5sim.client import login
from tests.support.demo import (
    CENTOS_WEB,
    P2_CENTOS,
    RHEL_ARCHIVE,
    UBUNTU_APP,
    WIN_AD,
    WIN_APP,
    WIN_APP_SERVER,
    WIN_FILE,
    demo_scenario,
    srv,
)

SNAPSHOT_SECONDS = 30  # the demo's settings
DELETE_SECONDS = 5
RESTORE_SECONDS = 60


def snapshots_url(api, version=2):
    return f"{api.base}/blockstorage/v{version}/{api.project_id}/snapshots"


def take(api, volume_id, version=2, **params):
    params.setdefault("name", f"snap-of-{volume_id[-4:]}")
    return api.request(
        "POST", snapshots_url(api, version), json={"snapshot": {"volume_id": volume_id, **params}}
    )


def taken(k5sim, api, volume_id, **params) -> dict:
    """A snapshot that is already `available`."""
    response = take(api, volume_id, **params)
    assert response.status_code == 202, response.text
    k5sim.advance(SNAPSHOT_SECONDS)
    return response.json()["snapshot"]


def restore(api, snapshot_id, version=2):
    return api.request(
        "POST", f"{snapshots_url(api, version)}/{snapshot_id}/action", json={"fcx-restore": None}
    )


def sim_volume(k5sim, volume_id):
    return k5sim.volume(volume_id)


@pytest.mark.parametrize("version", [2, 3])
def test_a_snapshot_is_creating_then_available(k5sim, api, version):
    response = take(api, CENTOS_WEB, version, description="before sysprep")

    assert response.status_code == 202
    snapshot = response.json()["snapshot"]
    assert snapshot["status"] == "creating"
    assert (snapshot["volume_id"], snapshot["size"]) == (CENTOS_WEB, 30)
    assert (snapshot["name"], snapshot["description"]) == ("snap-of-0001", "before sysprep")
    assert snapshot["os-extended-snapshot-attributes:progress"] == "0%"
    assert snapshot["metadata"] == {} and snapshot["created_at"] and snapshot["updated_at"]

    k5sim.advance(SNAPSHOT_SECONDS - 1)
    url = f"{snapshots_url(api, version)}/{snapshot['id']}"
    assert api.get(url).json()["snapshot"]["status"] == "creating"
    k5sim.advance(1)
    shown = api.get(url).json()["snapshot"]
    assert shown["status"] == "available"
    assert shown["os-extended-snapshot-attributes:progress"] == "100%"
    assert shown["updated_at"] > snapshot["updated_at"]


def test_an_in_use_volume_needs_force(k5sim, api):
    refused = take(api, WIN_APP)
    accepted = take(api, WIN_APP, force=True)

    assert refused.status_code == 400
    assert "status must be available" in refused.json()["badRequest"]["message"]
    assert accepted.status_code == 202


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"volume_id": RHEL_ARCHIVE, "force": True}, "must be available or in-use"),
        ({"volume_id": CENTOS_WEB, "force": "perhaps"}, "Invalid value 'perhaps' for force"),
        ({"name": "no volume"}, "'volume_id' must be specified"),
    ],
)
def test_a_volume_that_cannot_be_snapshotted_is_400(api, params, message):
    response = api.request("POST", snapshots_url(api), json={"snapshot": params})

    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]


def test_another_projects_volume_or_snapshot_is_404(k5sim, api, api2):
    assert take(api, P2_CENTOS).status_code == 404
    theirs = taken(k5sim, api2, P2_CENTOS)

    assert api.get(f"{snapshots_url(api)}/{theirs['id']}").status_code == 404
    assert restore(api, theirs["id"]).status_code == 404


def test_lists_filter_and_page_with_a_next_link(k5sim, api):
    for n in range(3):
        take(api, CENTOS_WEB, name=f"web-{n}")
    take(api, UBUNTU_APP, name="app")

    summary = api.get(snapshots_url(api)).json()["snapshots"]
    mine = api.get(f"{snapshots_url(api)}/detail", params={"volume_id": CENTOS_WEB}).json()
    named = api.get(f"{snapshots_url(api)}/detail", params={"name": "app"}).json()["snapshots"]
    first = api.get(f"{snapshots_url(api)}/detail", params={"limit": 2}).json()
    href = first["snapshots_links"][0]["href"]
    second = api.get(href).json()
    third = api.get(second["snapshots_links"][0]["href"]).json()

    assert [s["name"] for s in summary] == ["app", "web-2", "web-1", "web-0"], "newest first"
    assert "os-extended-snapshot-attributes:progress" not in summary[0]
    assert [s["name"] for s in mine["snapshots"]] == ["web-2", "web-1", "web-0"]
    assert "snapshots_links" not in mine
    assert [s["volume_id"] for s in named] == [UBUNTU_APP]
    assert parse_qs(urlsplit(href).query)["marker"] == [first["snapshots"][-1]["id"]]
    assert [s["name"] for s in first["snapshots"] + second["snapshots"]] == [
        "app",
        "web-2",
        "web-1",
        "web-0",
    ]
    assert third == {"snapshots": []}, "a full page links on even when nothing follows"


def test_a_deleted_snapshot_is_deleting_then_gone(k5sim, api):
    snapshot = taken(k5sim, api, CENTOS_WEB)
    url = f"{snapshots_url(api)}/{snapshot['id']}"

    response = api.request("DELETE", url)

    assert (response.status_code, response.content) == (202, b"")
    assert api.get(url).json()["snapshot"]["status"] == "deleting"
    assert api.request("DELETE", url).status_code == 400, "already deleting"
    k5sim.advance(DELETE_SECONDS)
    assert api.get(url).status_code == 404
    assert api.request("DELETE", url).status_code == 404
    assert api.get(snapshots_url(api)).json()["snapshots"] == []


def test_a_creating_snapshot_cannot_be_deleted(api):
    snapshot = take(api, CENTOS_WEB).json()["snapshot"]

    response = api.request("DELETE", f"{snapshots_url(api)}/{snapshot['id']}")

    assert response.status_code == 400
    assert "must be available or error" in response.json()["badRequest"]["message"]


def test_a_restore_answers_202_with_headers_only_and_keeps_the_volume_busy(k5sim, api):
    snapshot = taken(k5sim, api, WIN_AD)
    before = api.volume(WIN_AD).json()["volume"]["updated_at"]

    response = restore(api, snapshot["id"])

    assert response.status_code == 202
    assert response.content == b"" and response.headers["x-openstack-request-id"]
    busy = api.volume(WIN_AD).json()["volume"]
    assert busy["status"] == "restoring" and busy["updated_at"] > before
    assert api.upload(WIN_AD).status_code == 400, "no upload while restoring"
    k5sim.advance(RESTORE_SECONDS)
    after = api.volume(WIN_AD).json()["volume"]
    assert after["status"] == "available" and after["updated_at"] > busy["updated_at"]


def test_a_restore_is_refused_while_the_volumes_server_runs(k5sim, api):
    snapshot = taken(k5sim, api, WIN_APP, force=True)

    response = restore(api, snapshot["id"])

    assert response.status_code == 409
    message = response.json()["conflictingRequest"]["message"]
    assert WIN_APP_SERVER in message and "ACTIVE" in message
    assert sim_volume(k5sim, WIN_APP)["status"] == "in-use"


def test_a_restore_is_refused_while_the_server_is_still_powering_off(k5sim, api):
    snapshot = taken(k5sim, api, WIN_APP, force=True)
    api.request(
        "POST", f"{api.compute_url()}/servers/{WIN_APP_SERVER}/action", json={"os-stop": None}
    )

    assert restore(api, snapshot["id"]).status_code == 409
    k5sim.advance(20)
    assert restore(api, snapshot["id"]).status_code == 202


def test_a_restore_is_refused_for_a_creating_snapshot_or_a_busy_volume(k5sim, api):
    creating = take(api, WIN_FILE, force=True).json()["snapshot"]
    assert restore(api, creating["id"]).status_code == 409

    k5sim.advance(SNAPSHOT_SECONDS)
    assert restore(api, creating["id"]).status_code == 202
    again = restore(api, creating["id"])
    assert again.status_code == 409
    assert "current status is: restoring" in again.json()["conflictingRequest"]["message"]
    deleting = api.request("DELETE", f"{snapshots_url(api)}/{creating['id']}")
    assert deleting.status_code == 400, "not while a restore from it runs"


def test_an_unknown_snapshot_action_is_400(k5sim, api):
    snapshot = taken(k5sim, api, CENTOS_WEB)

    response = api.request(
        "POST", f"{snapshots_url(api)}/{snapshot['id']}/action", json={"os-reset_status": {}}
    )

    assert response.status_code == 400


def test_the_restore_brings_back_the_content_the_snapshot_recorded(k5sim, api):
    snapshot = taken(k5sim, api, WIN_APP, force=True)
    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep", json={"after_seconds": 0})
    assert sim_volume(k5sim, WIN_APP)["content"] == "generalized"

    assert restore(api, snapshot["id"]).status_code == 202
    assert sim_volume(k5sim, WIN_APP)["content"] == "generalized", "not before the end"
    k5sim.advance(RESTORE_SECONDS)

    volume = sim_volume(k5sim, WIN_APP)
    assert (volume["status"], volume["content"]) == ("in-use", "original")
    restored = next(s for s in k5sim.state()["snapshots"] if s["id"] == snapshot["id"])
    assert restored["content"] == "original" and len(restored["restores"]) == 1


def test_a_snapshot_taken_after_sysprep_keeps_the_generalized_disk(k5sim, api):
    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep", json={"after_seconds": 0})
    late = taken(k5sim, api, WIN_APP, force=True)

    assert restore(api, late["id"]).status_code == 202
    k5sim.advance(RESTORE_SECONDS)
    assert sim_volume(k5sim, WIN_APP)["content"] == "generalized"


def test_snapshot_durations_are_scenario_settings(k5sim):
    scenario = demo_scenario()
    scenario["settings"].update(snapshot_seconds=0, restore_seconds=500)
    k5sim.reset(scenario=scenario)
    api = login(k5sim)
    snapshot = take(api, WIN_AD).json()["snapshot"]
    assert api.get(f"{snapshots_url(api)}/{snapshot['id']}").json()["snapshot"]["status"] == (
        "available"
    )
    restore(api, snapshot["id"])
    k5sim.advance(499)
    assert api.volume(WIN_AD).json()["volume"]["status"] == "restoring"
    k5sim.advance(1)
    assert api.volume(WIN_AD).json()["volume"]["status"] == "available"


def test_a_bad_snapshot_setting_is_named(k5sim):
    scenario = demo_scenario()
    scenario["settings"]["restore_seconds"] = "slow"

    response = k5sim.http.post(f"{k5sim.base_url}/_sim/reset", json={"scenario": scenario})

    assert response.status_code == 400
    assert "settings.restore_seconds" in response.json()["error"]["message"]


def test_the_request_log_names_each_action(k5sim, api):
    snapshot = taken(k5sim, api, WIN_AD)
    restore(api, snapshot["id"])
    api.request("POST", f"{api.compute_url()}/servers/{srv(4)}/action", json={"os-stop": None})

    actions = [(e["template"].rsplit("/", 2)[-2], e["action"]) for e in k5sim.requests_log()]
    assert ("{snapshot_id}", "fcx-restore") in actions
    assert ("{server_id}", "os-stop") in actions
    assert k5sim.request_counts()["POST /blockstorage/v2/{project_id}/snapshots"] == 1
