"""What every answer has in common: request ids, error shapes, the request log, HTTP faults."""

import threading
import time

import pytest
import requests

from tests.k5sim.client import authenticate, demo_user, password_auth
from tests.support.demo import CENTOS_WEB, PROJECT_1, UBUNTU_APP


def test_every_kind_of_answer_carries_a_request_id(k5sim, api):
    responses = [
        api.get(f"{api.volumes_url()}/detail"),  # 200
        api.upload("00000000-0000-0000-0000-000000000000"),  # 404 Cinder
        api.get(f"{api.base}/blockstorage/v2/{PROJECT_1}/nothing"),  # 404 unknown path
        requests.put(f"{k5sim.auth_url}/auth/tokens", timeout=10),  # 405
        requests.get(f"{api.images_url()}", timeout=10),  # 401, no token
        authenticate(k5sim, password_auth(demo_user("bad"))),  # 401 Keystone
        requests.get(f"{k5sim.base_url}/_sim/health", timeout=10),  # control API
        requests.get(f"{k5sim.base_url}/nowhere", timeout=10),  # outside any service
    ]

    ids = [r.headers.get("x-openstack-request-id", "") for r in responses]
    assert all(i.startswith("req-") and len(i) == 40 for i in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("service", "method"),
    [
        ("volumes", "GET"),
        ("volume_action", "POST"),
        ("images", "GET"),
        ("servers", "GET"),
        ("token", "GET"),
    ],
)
@pytest.mark.parametrize(
    "token", [None, "0123456789abcdef0123456789abcdef"], ids=["missing", "unknown"]
)
def test_a_missing_or_unknown_token_is_401_on_every_service(k5sim, service, method, token):
    base = k5sim.base_url
    url = {
        "volumes": f"{base}/blockstorage/v2/{PROJECT_1}/volumes/detail",
        "volume_action": f"{base}/blockstorage/v3/{PROJECT_1}/volumes/{CENTOS_WEB}/action",
        "images": f"{base}/image/v2/images",
        "servers": f"{base}/compute/v2/{PROJECT_1}/servers/detail",
        "token": f"{k5sim.auth_url}/auth/tokens",
    }[service]
    headers = {"X-Auth-Token": token} if token else {}

    response = requests.request(
        method,
        url,
        headers=headers,
        timeout=10,
        json={"os-volume_upload_image": {"image_name": "x"}},
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Keystone uri=")


@pytest.mark.parametrize(
    ("url_of", "key"),
    [
        (lambda api: f"{api.volumes_url()}/{CENTOS_WEB}/action", "badRequest"),
        (lambda api: f"{api.sim.auth_url}/auth/tokens", "error"),
    ],
)
@pytest.mark.parametrize("data", [b"{not json", b"", b"\xff\xfe", b"[1, 2"])
def test_malformed_json_is_400_in_the_services_shape(api, url_of, key, data):
    response = api.request(
        "POST", url_of(api), data=data, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()[key]["code"] == 400
    assert "Traceback" not in response.text


def test_unknown_paths_are_404_and_wrong_methods_405(api):
    unknown = api.get(f"{api.volumes_url()}/{CENTOS_WEB}/snapshots")
    wrong = api.request("DELETE", f"{api.volumes_url()}/detail")
    glance = api.get(f"{api.base}/image/v2/schemas/colour")

    assert unknown.status_code == 404
    assert unknown.json()["itemNotFound"]["code"] == 404
    assert wrong.status_code == 405
    assert wrong.json()["badMethod"]["code"] == 405
    assert glance.status_code == 404
    assert glance.json()["title"] == "Not Found"


def test_the_request_log_records_each_call_with_its_endpoint_template(k5sim, api):
    k5sim.clear_requests()
    listed = api.get(f"{api.volumes_url()}/detail")
    api.get(f"{api.volumes_url()}/detail", params={"limit": 2})
    api.volume(CENTOS_WEB)
    api.upload(CENTOS_WEB)
    api.image("30000000-0000-4000-8000-000000000001")
    api.get(f"{api.compute_url()}/servers/20000000-0000-4000-8000-000000000001")
    k5sim.state()  # control calls are not logged

    counts = k5sim.request_counts()

    assert counts == {
        "GET /blockstorage/v2/{project_id}/volumes/detail": 2,
        "GET /blockstorage/v2/{project_id}/volumes/{volume_id}": 1,
        "POST /blockstorage/v2/{project_id}/volumes/{volume_id}/action": 1,
        "GET /image/v2/images/{image_id}": 1,
        "GET /compute/v2/{project_id}/servers/{server_id}": 1,
    }
    first = k5sim.requests_log()[0]
    assert first["method"] == "GET"
    assert first["path"] == f"/blockstorage/v2/{PROJECT_1}/volumes/detail"
    assert first["template"] == "/blockstorage/v2/{project_id}/volumes/detail"
    assert first["status"] == 200
    assert first["project_id"] == PROJECT_1
    assert first["request_id"] == listed.headers["x-openstack-request-id"]
    assert first["time"].endswith("Z")


def test_the_log_knows_the_project_of_image_and_token_calls(k5sim, api):
    k5sim.clear_requests()
    api.get(api.images_url())
    authenticate(k5sim, password_auth(demo_user(), {"project": {"id": PROJECT_1}}))

    entries = k5sim.requests_log()

    assert [e["project_id"] for e in entries] == [PROJECT_1, PROJECT_1]
    assert entries[1]["template"] == "/identity/v3/auth/tokens"


def test_reset_clears_the_request_log(k5sim, api):
    api.get(api.volumes_url())

    k5sim.reset()

    assert k5sim.request_counts() == {}


def test_an_http_fault_answers_its_status_n_times_then_normally(k5sim, api):
    k5sim.add_fault(kind="http", method="GET", path="/volumes/detail$", status=503, times=2)

    statuses = [api.get(f"{api.volumes_url()}/detail") for _ in range(3)]

    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].json()["serviceUnavailable"]["code"] == 503
    assert statuses[0].headers["x-openstack-request-id"].startswith("req-")
    assert api.volume(CENTOS_WEB).status_code == 200  # another path is untouched
    assert [e["status"] for e in k5sim.requests_log()[-4:-1]] == [503, 503, 200]


def test_an_http_fault_matches_the_method(k5sim, api):
    k5sim.add_fault(kind="http", method="POST", path="/action$", status=500)

    assert api.get(f"{api.volumes_url()}/detail").status_code == 200
    response = api.upload(CENTOS_WEB)

    assert response.status_code == 500
    assert response.json()["computeFault"]["code"] == 500
    assert api.volume(CENTOS_WEB).json()["volume"]["status"] == "available"


def test_an_http_fault_on_glance_uses_glances_shape(k5sim, api):
    k5sim.add_fault(kind="http", path="^/image/v2/images$", status=502)

    response = api.get(api.images_url())

    assert response.status_code == 502
    assert response.json()["code"] == "502 Bad Gateway"


def test_a_reset_fault_drops_the_connection_without_answer(k5sim, api):
    k5sim.add_fault(kind="http", path="/volumes/detail$", reset=True)

    with pytest.raises(requests.exceptions.ConnectionError):
        api.get(f"{api.volumes_url()}/detail")

    assert api.get(f"{api.volumes_url()}/detail").status_code == 200
    assert k5sim.requests_log()[-2]["reset"] is True


def test_a_latency_fault_delays_the_answer(k5sim, api):
    k5sim.add_fault(kind="http", path="/volumes/detail$", latency=0.6)

    started = time.monotonic()
    response = api.get(f"{api.volumes_url()}/detail")
    delayed = time.monotonic() - started
    started = time.monotonic()
    api.get(f"{api.volumes_url()}/detail")
    normal = time.monotonic() - started

    assert response.status_code == 200
    assert delayed >= 0.6 > normal


def test_a_delay_answer_fault_acts_at_once_and_holds_only_the_answer_back(k5sim, api):
    k5sim.add_fault(kind="http", method="POST", path="/action$", delay_answer=1.0)
    answers = []
    sender = threading.Thread(target=lambda: answers.append(api.upload(CENTOS_WEB)))
    started = time.monotonic()
    sender.start()

    volume_status = None
    while time.monotonic() - started < 0.8 and volume_status != "uploading":
        volume = next(v for v in k5sim.state()["volumes"] if v["id"] == CENTOS_WEB)
        volume_status = volume["status"]
    logged = [e for e in k5sim.requests_log() if e["path"].endswith("/action")]
    seen_after = time.monotonic() - started
    sender.join(timeout=10)
    answered_after = time.monotonic() - started

    assert volume_status == "uploading" and seen_after < 0.9, "K5 acted before answering"
    assert [e["status"] for e in logged] == [202], "logged as handled, before the answer left"
    assert answers[0].status_code == 202 and answered_after >= 1.0
    assert api.upload(UBUNTU_APP).status_code == 202  # one use only


def test_the_log_has_the_precise_arrival_time_of_each_request(k5sim, api):
    k5sim.clear_requests()
    before = time.time()
    api.get(f"{api.volumes_url()}/detail")
    api.get(api.images_url())
    after = time.time()

    arrivals = [e["received_at"] for e in k5sim.requests_log()]

    assert before <= arrivals[0] <= arrivals[1] <= after
    assert arrivals[0] != int(arrivals[0]) or arrivals[1] != int(arrivals[1])


def test_unlimited_faults_last_until_cleared(k5sim, api):
    k5sim.add_fault(kind="http", path="/volumes/detail$", status=503, times=None)
    assert [api.get(f"{api.volumes_url()}/detail").status_code for _ in range(4)] == [503] * 4

    k5sim.control("DELETE", "faults")

    assert api.get(f"{api.volumes_url()}/detail").status_code == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "earthquake"},
        {"kind": "http", "path": "("},
        {"kind": "http", "path": "x"},
        {"kind": "http", "status": 200},
        {"kind": "http", "path": "x", "delay_answer": -1},
        {"kind": "http", "path": "x", "delay_answer": 1, "status": 503},
        {"kind": "http", "path": "x", "delay_answer": 1, "reset": True},
        {"kind": "sync_failure", "zone": "jp-west-9z"},
        {"kind": "volume_vanish"},
        {"kind": "upload_failure", "times": 0},
        {"kind": "upload_failure", "colour": "red"},
    ],
)
def test_invalid_faults_are_refused_with_a_reason(k5sim, fault):
    response = requests.post(f"{k5sim.base_url}/_sim/faults", json=fault, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["message"]
