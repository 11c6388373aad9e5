"""Compute: the servers volumes are attached to, and the availability zones."""

import requests

from tests.support.demo import CENTOS_BATCH, PROJECT_1, UBUNTU_FRONT, srv, vol


def test_a_server_shows_its_status_zone_and_volumes(api):
    response = api.get(f"{api.compute_url()}/servers/{srv(1)}")

    assert response.status_code == 200
    server = response.json()["server"]
    assert server["id"] == srv(1)
    assert server["name"] == "batch-01"
    assert server["status"] == "SHUTOFF"
    assert server["OS-EXT-AZ:availability_zone"] == "jp-east-1a"
    assert server["os-extended-volumes:volumes_attached"] == [{"id": CENTOS_BATCH}]
    assert server["tenant_id"] == PROJECT_1
    assert server["links"][0]["rel"] == "self"


def test_an_active_server_with_two_volumes(api):
    server = api.get(f"{api.compute_url()}/servers/{srv(2)}").json()["server"]

    assert server["status"] == "ACTIVE"
    assert {v["id"] for v in server["os-extended-volumes:volumes_attached"]} == {
        UBUNTU_FRONT,
        vol(12),
    }


def test_lists_show_only_the_projects_servers(api):
    summary = api.get(f"{api.compute_url()}/servers").json()["servers"]
    detail = api.get(f"{api.compute_url()}/servers/detail").json()["servers"]

    assert {s["id"] for s in summary} == {srv(1), srv(2), srv(3), srv(4), srv(5)}
    assert all(set(s) == {"id", "name", "links"} for s in summary)
    assert {s["status"] for s in detail} == {"ACTIVE", "SHUTOFF"}


def test_another_projects_server_is_404(api):
    response = api.get(f"{api.compute_url()}/servers/{srv(21)}")

    assert response.status_code == 404
    assert response.json()["itemNotFound"]["code"] == 404


def test_availability_zones(api):
    body = api.get(f"{api.compute_url()}/os-availability-zone").json()

    assert body == {
        "availabilityZoneInfo": [
            {"zoneName": "jp-east-1a", "zoneState": {"available": True}, "hosts": None},
            {"zoneName": "jp-east-1b", "zoneState": {"available": True}, "hosts": None},
        ]
    }


def test_control_patch_starts_a_server(k5sim, api):
    k5sim.control("PATCH", f"servers/{srv(1)}", json={"status": "ACTIVE"})

    server = api.get(f"{api.compute_url()}/servers/{srv(1)}").json()["server"]
    assert server["status"] == "ACTIVE"


def test_compute_version_document(k5sim):
    response = requests.get(f"{k5sim.base_url}/compute/", timeout=10)

    version = response.json()["versions"][0]
    assert version["id"] == "v2.0" and version["status"] == "CURRENT"
    assert version["links"][0]["href"] == f"{k5sim.base_url}/compute/v2/"
