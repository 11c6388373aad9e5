"""The /_sim/ control interface."""

import threading
import time

import requests

from tests.k5sim.client import login
from tests.support.demo import CENTOS_WEB, PROJECT_1, PROJECT_2, RHEL_ARCHIVE, demo_scenario, img


def post(k5sim, path, body):
    return requests.post(f"{k5sim.base_url}/_sim/{path}", json=body, timeout=30)


def test_health(k5sim):
    response = requests.get(f"{k5sim.base_url}/_sim/health", timeout=10)

    assert response.json() == {"ok": True}


def test_state_shows_the_demo_with_fixed_names(k5sim):
    state = k5sim.state()

    assert state["region"] == "jp-east-1"
    assert state["zones"] == [
        {"name": "jp-east-1a", "image_server": "http://192.0.2.11:9292"},
        {"name": "jp-east-1b", "image_server": "http://192.0.2.12:9292"},
    ]
    assert {p["name"]: p["id"] for p in state["projects"]} == {
        "demo-project-1": PROJECT_1,
        "demo-project-2": PROJECT_2,
    }
    assert k5sim.project_id("demo-project-2") == PROJECT_2
    users = {u["name"]: u for u in state["users"]}
    assert set(users) == {"demo-user", "lock-user", "view-user"}
    assert "password" not in users["demo-user"]
    sizes = [v["size"] for v in state["volumes"]]
    assert min(sizes) == 1 and max(sizes) == 500
    assert {v["status"] for v in state["volumes"]} == {"available", "in-use", "error", "uploading"}
    (upload,) = state["uploads"]
    assert upload["volume_id"] == RHEL_ARCHIVE and upload["state"] == "running"
    archive_image = next(i for i in state["images"] if i["id"] == img(8))
    assert archive_image["status"] == "saving"


def test_reset_restores_the_initial_state(k5sim, api):
    api.upload(CENTOS_WEB)
    k5sim.add_fault(kind="upload_failure")
    k5sim.advance(1000)

    k5sim.reset()

    state = k5sim.state()
    assert next(v for v in state["volumes"] if v["id"] == CENTOS_WEB)["status"] == "available"
    assert state["faults"] == [] and state["tokens"] == 0
    assert abs(state["offset_seconds"]) < 1e-9
    assert api.volume(CENTOS_WEB).status_code == 401  # tokens are gone too


def test_reset_with_speed_then_without_returns_to_speed_1(k5sim):
    k5sim.reset(speed=10)
    assert k5sim.state()["speed"] == 10

    k5sim.reset()

    assert k5sim.state()["speed"] == 1


def test_reset_with_a_scenario_object(k5sim):
    scenario = demo_scenario()
    scenario["volumes"] = scenario["volumes"][:1]

    k5sim.reset(scenario=scenario)

    assert [v["id"] for v in k5sim.state()["volumes"]] == [CENTOS_WEB]
    k5sim.reset()
    assert len(k5sim.state()["volumes"]) == 17


def test_reset_with_a_bad_scenario_is_400_naming_the_problem(k5sim):
    scenario = demo_scenario()
    scenario["volumes"][2]["size"] = "big"

    response = post(k5sim, "reset", {"scenario": scenario})

    assert response.status_code == 400
    assert "volumes[2].size" in response.json()["error"]["message"]
    assert len(k5sim.state()["volumes"]) == 17  # the old state is untouched


def test_advance_moves_the_clock_the_api_shows(k5sim, api):
    before = k5sim.control("GET", "clock").json()

    answer = post(k5sim, "clock/advance", {"seconds": 7200}).json()

    assert answer["offset_seconds"] - before["offset_seconds"] >= 7200 - 1e-6
    assert answer["now"] > before["now"]


def test_advance_needs_a_number(k5sim):
    for body in ({}, {"seconds": "soon"}, {"seconds": -5}):
        assert post(k5sim, "clock/advance", body).status_code == 400


def test_bulk_volumes_accepts_a_project_name_and_validates(k5sim, api):
    created = post(
        k5sim,
        "projects/demo-project-1/volumes",
        {"count": 3, "size": 7, "status": "error", "name_prefix": "junk-"},
    )

    assert created.status_code == 201
    volumes = api.get(f"{api.volumes_url()}/detail", params={"status": "error"}).json()
    assert {v["name"] for v in volumes["volumes"]} >= {"junk-00001", "junk-00002", "junk-00003"}
    for bad in (
        {"count": 0},
        {"size": "x"},
        {"status": "in-use"},
        {"os": "beos"},
        {"availability_zone": "mars-1a"},
    ):
        assert post(k5sim, "projects/demo-project-1/volumes", bad).status_code == 400
    assert post(k5sim, "projects/nope/volumes", {}).status_code == 404


def test_patch_refuses_unknown_fields(k5sim):
    response = requests.patch(
        f"{k5sim.base_url}/_sim/volumes/{CENTOS_WEB}", json={"colour": "red"}, timeout=10
    )

    assert response.status_code == 400


def test_the_control_api_is_not_in_the_request_log(k5sim):
    k5sim.state()
    k5sim.advance(1)
    post(k5sim, "faults", {"kind": "upload_failure"})

    assert k5sim.requests_log() == []


def test_state_shows_uploads_and_rate_limit(k5sim):
    api = login(k5sim)
    api.upload(CENTOS_WEB)

    state = k5sim.state()

    assert state["rate_limit"][PROJECT_1]["accepted_in_window"] == 1
    upload = next(u for u in state["uploads"] if u["volume_id"] == CENTOS_WEB)
    assert upload["previous_status"] == "available"
    assert upload["ends_at"] > upload["accepted_at"]


def test_a_call_received_before_a_reset_is_neither_logged_after_it_nor_takes_its_faults(k5sim):
    """A slow call an earlier test gave up on is answered after the next test's reset: it must
    not appear in that test's log, nor use up a fault that test set."""
    api = login(k5sim)
    k5sim.add_fault(kind="http", method="GET", path=f"{CENTOS_WEB}$", latency=1.5)
    answered = []
    slow = threading.Thread(target=lambda: answered.append(api.volume(CENTOS_WEB)))
    slow.start()
    time.sleep(0.5)  # the call is in the simulator, waiting out its latency
    k5sim.reset()  # the next test begins
    k5sim.add_fault(kind="http", method="GET", path=f"{CENTOS_WEB}$", status=503)
    slow.join(timeout=10)

    assert answered and answered[0].status_code != 503  # the new test's fault is still there
    assert k5sim.requests_log() == []
    [fault] = requests.get(f"{k5sim.base_url}/_sim/faults", timeout=10).json()["faults"]
    assert fault["status"] == 503 and fault["used"] == 0
