"""Nova's os-stop/os-start, a guest that shuts itself down (Sysprep), the record of starts,
and faults on the new calls."""

import pytest

from tests.support.demo import (
    BATCH_SERVER,
    CENTOS_APP,
    CENTOS_APP_SERVER,
    WIN_APP,
    WIN_APP_SERVER,
    WIN_FILE,
    demo_scenario,
    srv,
)

STOP_SECONDS = 20  # the demo's settings
START_SECONDS = 30
SYSPREP_SECONDS = 60


def act(api, server_id, body):
    return api.request("POST", f"{api.compute_url()}/servers/{server_id}/action", json=body)


def server(api, server_id):
    return api.get(f"{api.compute_url()}/servers/{server_id}").json()["server"]


def sim_server(k5sim, server_id):
    return k5sim.control("GET", f"servers/{server_id}").json()


def test_os_stop_powers_off_after_a_while(k5sim, api):
    before = server(api, CENTOS_APP_SERVER)

    response = act(api, CENTOS_APP_SERVER, {"os-stop": None})

    assert (response.status_code, response.content) == (202, b"")
    stopping = server(api, CENTOS_APP_SERVER)
    assert stopping["status"] == "ACTIVE"
    assert stopping["OS-EXT-STS:task_state"] == "powering-off"
    assert stopping["updated"] >= before["updated"]
    k5sim.advance(STOP_SECONDS)
    stopped = server(api, CENTOS_APP_SERVER)
    assert (stopped["status"], stopped["OS-EXT-STS:task_state"]) == ("SHUTOFF", None)
    assert stopped["OS-EXT-STS:vm_state"] == "stopped"


def test_os_start_powers_on_after_a_while(k5sim, api):
    response = act(api, BATCH_SERVER, {"os-start": None})

    assert response.status_code == 202
    starting = server(api, BATCH_SERVER)
    assert (starting["status"], starting["OS-EXT-STS:task_state"]) == ("SHUTOFF", "powering-on")
    k5sim.advance(START_SECONDS)
    started = server(api, BATCH_SERVER)
    assert (started["status"], started["OS-EXT-STS:task_state"]) == ("ACTIVE", None)


@pytest.mark.parametrize(
    ("server_id", "action", "state"),
    [
        (BATCH_SERVER, "os-stop", "vm_state stopped"),
        (CENTOS_APP_SERVER, "os-start", "vm_state active"),
    ],
)
def test_a_power_action_in_the_wrong_state_is_409_as_nova_says_it(api, server_id, action, state):
    response = act(api, server_id, {action: None})

    assert response.status_code == 409
    verb = action.removeprefix("os-")
    assert response.json() == {
        "conflictingRequest": {
            "code": 409,
            "message": f"Cannot '{verb}' instance {server_id} while it is in {state}",
        }
    }


def test_a_second_stop_while_powering_off_is_409(k5sim, api):
    act(api, CENTOS_APP_SERVER, {"os-stop": None})

    response = act(api, CENTOS_APP_SERVER, {"os-stop": None})

    assert response.status_code == 409
    assert "task_state powering-off" in response.json()["conflictingRequest"]["message"]


def test_an_unknown_server_action_is_400_and_another_projects_server_404(api):
    assert act(api, CENTOS_APP_SERVER, {"os-hibernate": None}).status_code == 400
    assert act(api, srv(21), {"os-stop": None}).status_code == 404


def test_sysprep_generalizes_the_system_volume_then_the_server_powers_off(k5sim, api):
    response = k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")

    assert response.status_code == 202
    assert sim_server(k5sim, WIN_APP_SERVER)["volumes"] == [
        {"id": WIN_APP, "status": "in-use", "content": "generalized"}
    ]
    assert server(api, WIN_APP_SERVER)["status"] == "ACTIVE", "Sysprep is still shutting down"
    k5sim.advance(SYSPREP_SECONDS)
    assert server(api, WIN_APP_SERVER)["status"] == "SHUTOFF"
    assert [s["by"] for s in sim_server(k5sim, WIN_APP_SERVER)["stops"]] == ["sysprep"]


def test_a_plain_power_off_from_inside_keeps_the_disk(k5sim, api):
    k5sim.control("POST", f"servers/{CENTOS_APP_SERVER}/power-off")

    state = sim_server(k5sim, CENTOS_APP_SERVER)
    assert state["status"] == "SHUTOFF"
    assert state["volumes"] == [{"id": CENTOS_APP, "status": "in-use", "content": "original"}]


def test_sysprep_of_a_stopped_server_is_refused(k5sim):
    response = k5sim.http.post(f"{k5sim.base_url}/_sim/servers/{BATCH_SERVER}/sysprep")

    assert response.status_code == 409


def test_every_start_is_recorded_with_the_content_it_booted_on(k5sim, api):
    k5sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep", json={"after_seconds": 0})

    act(api, WIN_APP_SERVER, {"os-start": None})
    k5sim.advance(START_SECONDS)
    k5sim.control("PATCH", f"servers/{WIN_APP_SERVER}", json={"status": "SHUTOFF"})
    k5sim.control("PATCH", f"volumes/{WIN_APP}", json={"content": "original"})
    k5sim.control("PATCH", f"servers/{WIN_APP_SERVER}", json={"status": "ACTIVE"})

    starts = sim_server(k5sim, WIN_APP_SERVER)["starts"]
    assert [(s["by"], s["volume_id"], s["content"]) for s in starts] == [
        ("os-start", WIN_APP, "generalized"),
        ("control", WIN_APP, "original"),
    ]
    assert all(s["at"] and s["volume_status"] == "in-use" for s in starts)


def test_the_state_shows_task_state_starts_and_the_system_volume(k5sim, api):
    act(api, CENTOS_APP_SERVER, {"os-stop": None})

    shown = next(s for s in k5sim.state()["servers"] if s["id"] == CENTOS_APP_SERVER)
    assert shown["task_state"] == "powering-off"
    assert shown["system_volume_id"] == CENTOS_APP
    assert shown["starts"] == []
    file_server = next(s for s in k5sim.state()["servers"] if s["id"] == srv(3))
    assert file_server["system_volume_id"] == WIN_FILE


def test_a_fault_can_refuse_only_the_os_stop(k5sim, api):
    k5sim.add_fault(
        kind="http", method="POST", path="/servers/[^/]+/action$", action="os-stop", status=409
    )

    refused = act(api, CENTOS_APP_SERVER, {"os-stop": None})
    started = act(api, BATCH_SERVER, {"os-start": None})
    stopped = act(api, CENTOS_APP_SERVER, {"os-stop": None})

    assert refused.status_code == 409 and "conflictingRequest" in refused.json()
    assert started.status_code == 202, "os-start is not matched"
    assert stopped.status_code == 202, "used once"


def test_an_acted_fault_answers_500_after_doing_the_restore(k5sim, api):
    snapshot = api.request(
        "POST",
        f"{api.base}/blockstorage/v2/{api.project_id}/snapshots",
        json={"snapshot": {"volume_id": WIN_FILE, "force": True, "name": "s"}},
    ).json()["snapshot"]
    k5sim.advance(30)
    k5sim.add_fault(
        kind="http", path="/snapshots/[^/]+/action$", action="fcx-restore", status=500, acted=True
    )

    response = api.request(
        "POST",
        f"{api.base}/blockstorage/v2/{api.project_id}/snapshots/{snapshot['id']}/action",
        json={"fcx-restore": None},
    )

    assert response.status_code == 500 and "computeFault" in response.json()
    assert k5sim.volume(WIN_FILE)["status"] == "restoring", "K5 did it anyway"
    assert k5sim.requests_log()[-1]["status"] == 500


def test_a_plain_500_fault_on_the_restore_does_nothing(k5sim, api):
    snapshot = api.request(
        "POST",
        f"{api.base}/blockstorage/v2/{api.project_id}/snapshots",
        json={"snapshot": {"volume_id": WIN_FILE, "force": True, "name": "s"}},
    ).json()["snapshot"]
    k5sim.advance(30)
    k5sim.add_fault(kind="http", method="POST", path="/snapshots/[^/]+/action$", status=500)
    url = f"{api.base}/blockstorage/v2/{api.project_id}/snapshots/{snapshot['id']}/action"

    first = api.request("POST", url, json={"fcx-restore": None})
    assert (first.status_code, k5sim.volume(WIN_FILE)["status"]) == (500, "in-use")
    second = api.request("POST", url, json={"fcx-restore": None})
    assert (second.status_code, k5sim.volume(WIN_FILE)["status"]) == (202, "restoring")


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "http", "path": "x", "acted": True},
        {"kind": "http", "path": "x", "status": 500, "acted": "yes"},
        {"kind": "http", "path": "x", "status": 500, "action": ""},
    ],
)
def test_bad_new_http_fault_keys_are_400(k5sim, fault):
    response = k5sim.http.post(f"{k5sim.base_url}/_sim/faults", json=fault)

    assert response.status_code == 400


def test_a_scenario_sets_a_volumes_content_and_a_bad_one_is_named(k5sim):
    scenario = demo_scenario()
    scenario["volumes"][0]["content"] = "golden"
    k5sim.reset(scenario=scenario)
    assert k5sim.volume(scenario["volumes"][0]["id"])["content"] == "golden"

    scenario["volumes"][0]["content"] = 5
    response = k5sim.http.post(f"{k5sim.base_url}/_sim/reset", json={"scenario": scenario})

    assert response.status_code == 400
    assert "volumes[0].content" in response.json()["error"]["message"]
