"""Block Storage volume listing and detail, as a Cinder client sees them."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.k5sim.client import login
from tests.support.demo import (
    CENTOS_BATCH,
    CENTOS_WEB,
    DATA_SMALL,
    P2_CENTOS,
    PROJECT_1,
    PROJECT_2,
    RHEL_ARCHIVE,
    UBUNTU_FRONT,
    WIN_AD,
    WIN_FILE,
    demo_scenario,
    srv,
)


def all_pages(api, url, params=None):
    """Follow `volumes_links` next hrefs; returns (pages, volumes)."""
    pages, volumes = [], []
    response = api.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        volumes.extend(body["volumes"])
        links = body.get("volumes_links") or []
        if not links:
            return pages, volumes
        assert links[0]["rel"] == "next"
        response = api.get(links[0]["href"])


@pytest.mark.parametrize("version", [2, 3])
def test_detail_shows_cinder_fields(api, version):
    body = api.volume(CENTOS_WEB, version).json()["volume"]

    assert body["id"] == CENTOS_WEB
    assert body["name"] == "centos-web-01"
    assert body["status"] == "available"
    assert body["size"] == 30
    assert body["availability_zone"] == "jp-east-1a"
    assert body["bootable"] == "true"
    assert body["attachments"] == []
    assert body["volume_type"] == "M1"
    assert body["metadata"] == {}
    assert body["encrypted"] is False and body["multiattach"] is False
    assert body["os-vol-tenant-attr:tenant_id"] == PROJECT_1
    assert body["user_id"]
    assert body["description"] is None
    for key in ("created_at", "updated_at"):
        time.strptime(body[key], "%Y-%m-%dT%H:%M:%S.%f")
    meta = body["volume_image_metadata"]
    assert meta["image_name"] == "CentOS 7.9 64bit (English) 01"
    assert meta["os_type"] == "linux" and meta["os_distro"] == "centos"
    assert body["links"][0] == {
        "rel": "self",
        "href": f"{api.base}/blockstorage/v{version}/{PROJECT_1}/volumes/{CENTOS_WEB}",
    }


def test_windows_volumes_carry_windows_image_metadata(api):
    meta = api.volume(WIN_AD).json()["volume"]["volume_image_metadata"]

    assert meta["os_type"] == "windows"
    assert meta["fcx.win"] == "true"


def test_a_volume_from_a_k5_public_image_has_only_k5s_windows_flag(k5sim, api):
    meta = api.volume(WIN_FILE).json()["volume"]["volume_image_metadata"]
    assert meta["fcx.win"] == "true"
    assert "os_type" not in meta and "os_distro" not in meta

    upload = api.upload(WIN_FILE, force=True, image_name="file-01-image")
    made = api.image(upload.json()["os-volume_upload_image"]["image_id"]).json()

    assert made["fcx.win"] == "true" and "os_type" not in made


def test_a_volume_from_an_imported_image_says_rhel7(api):
    meta = api.volume(RHEL_ARCHIVE).json()["volume"]["volume_image_metadata"]

    assert meta["os_type"] == "rhel7"
    assert not any(key.startswith("fcx.") for key in meta) and "os_distro" not in meta


def test_a_data_volume_has_no_image_metadata(api):
    body = api.volume(DATA_SMALL).json()["volume"]

    assert "volume_image_metadata" not in body
    assert body["bootable"] == "false"
    assert body["size"] == 1


def test_an_attached_volume_shows_its_server(api):
    body = api.volume(CENTOS_BATCH).json()["volume"]

    assert body["status"] == "in-use"
    (attachment,) = body["attachments"]
    assert attachment["server_id"] == srv(1)
    assert attachment["volume_id"] == attachment["id"] == CENTOS_BATCH
    assert attachment["device"] == "/dev/vda"
    assert {"attachment_id", "host_name"} <= set(attachment)


def test_the_demo_upload_is_in_progress(api):
    assert api.volume(RHEL_ARCHIVE).json()["volume"]["status"] == "uploading"


def test_the_list_without_detail_has_only_id_name_links(api):
    body = api.get(api.volumes_url()).json()

    assert body["volumes"]
    assert all(set(v) == {"id", "name", "links"} for v in body["volumes"])


def test_the_detail_list_is_the_projects_volumes_newest_first(api):
    volumes = api.get(f"{api.volumes_url()}/detail").json()["volumes"]

    ids = [v["id"] for v in volumes]
    assert CENTOS_WEB in ids and P2_CENTOS not in ids
    assert all(v["os-vol-tenant-attr:tenant_id"] == PROJECT_1 for v in volumes)
    created = [v["created_at"] for v in volumes]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "in-use"}, {"in-use"}),
        ({"status": "error"}, {"error"}),
        ({"name": "centos-web-01"}, {"available"}),
    ],
)
def test_the_list_filters_by_status_and_name(api, params, expected):
    volumes = api.get(f"{api.volumes_url()}/detail", params=params).json()["volumes"]

    assert volumes
    assert {v["status"] for v in volumes} == expected
    for key, value in params.items():
        assert all(v[key] == value for v in volumes)


def test_the_list_filters_by_zone_and_bootable(api):
    volumes = api.get(
        f"{api.volumes_url()}/detail",
        params={"availability_zone": "jp-east-1b", "bootable": "false"},
    ).json()["volumes"]

    assert volumes
    assert all(v["availability_zone"] == "jp-east-1b" and v["bootable"] == "false" for v in volumes)


def test_limit_and_marker_page_through_the_list(api):
    first = api.get(f"{api.volumes_url()}/detail", params={"limit": 5}).json()

    assert len(first["volumes"]) == 5
    next_href = first["volumes_links"][0]["href"]
    assert next_href.startswith(f"{api.base}/blockstorage/v2/{PROJECT_1}/volumes/detail?")
    query = parse_qs(urlsplit(next_href).query)
    assert query == {"limit": ["5"], "marker": [first["volumes"][-1]["id"]]}
    pages, volumes = all_pages(api, f"{api.volumes_url()}/detail", {"limit": 5})
    everything = api.get(f"{api.volumes_url()}/detail").json()["volumes"]
    assert [v["id"] for v in volumes] == [v["id"] for v in everything]
    assert "volumes_links" not in pages[-1]


@pytest.mark.parametrize("detail", ["/detail", ""])
@pytest.mark.parametrize("version", [2, 3])
def test_a_full_last_page_links_on_to_an_empty_page_as_cinder_does(api2, detail, version):
    url = api2.volumes_url(version) + detail

    pages, volumes = all_pages(api2, url, {"limit": 3})  # demo-project-2 has 3 volumes

    assert [len(page["volumes"]) for page in pages] == [3, 0]
    assert len(volumes) == 3
    assert "volumes_links" not in pages[-1]


def test_a_page_full_at_max_limit_links_on_without_a_limit(k5sim):
    scenario = demo_scenario()
    scenario["settings"]["max_limit"] = 3
    k5sim.reset(scenario=scenario)
    api2 = login(k5sim, "demo-project-2")

    pages, _ = all_pages(api2, f"{api2.volumes_url()}/detail")

    assert [len(page["volumes"]) for page in pages] == [3, 0]


def test_pagination_across_thousands_of_bulk_volumes(k5sim, api2):
    started = time.monotonic()
    created = k5sim.control(
        "POST",
        f"projects/{PROJECT_2}/volumes",
        json={"count": 2500, "size": 1, "name_prefix": "bulk-"},
    ).json()
    assert created["count"] == 2500

    pages, volumes = all_pages(api2, f"{api2.volumes_url()}/detail", {"limit": 1000})

    assert [len(p["volumes"]) for p in pages] == [1000, 1000, 503]
    assert len({v["id"] for v in volumes}) == 2503
    assert set(created["ids"]) <= {v["id"] for v in volumes}
    assert time.monotonic() - started < 20


def test_the_server_caps_pages_at_max_limit(k5sim, api2):
    k5sim.control("POST", f"projects/{PROJECT_2}/volumes", json={"count": 1200})

    unlimited = api2.get(f"{api2.volumes_url()}/detail").json()
    too_big = api2.get(f"{api2.volumes_url()}/detail", params={"limit": 5000}).json()

    assert len(unlimited["volumes"]) == 1000
    assert "limit" not in parse_qs(urlsplit(unlimited["volumes_links"][0]["href"]).query)
    assert len(too_big["volumes"]) == 1000
    _, everything = all_pages(api2, f"{api2.volumes_url()}")
    assert len(everything) == 1203


def test_max_limit_comes_from_the_scenario(k5sim):
    scenario = demo_scenario()
    scenario["settings"]["max_limit"] = 4
    k5sim.reset(scenario=scenario)

    api = login(k5sim)
    body = api.get(f"{api.volumes_url()}/detail").json()

    assert len(body["volumes"]) == 4
    assert body["volumes_links"][0]["rel"] == "next"


def test_bulk_creation_of_5000_volumes_is_quick(k5sim, api2):
    started = time.monotonic()
    k5sim.control(
        "POST",
        f"projects/{PROJECT_2}/volumes",
        json={
            "count": 5000,
            "os": "centos",
            "availability_zone": "jp-east-1b",
            "status": "available",
            "size": 40,
        },
    )
    created = time.monotonic() - started

    page_started = time.monotonic()
    page = api2.get(f"{api2.volumes_url()}/detail", params={"limit": 1000}).json()
    listed = time.monotonic() - page_started

    assert created < 5 and listed < 5
    bulk = [v for v in page["volumes"] if v["name"].startswith("bulk-")]
    assert bulk and all(
        v["availability_zone"] == "jp-east-1b" and v["bootable"] == "true" for v in bulk
    )


@pytest.mark.parametrize(
    "params", [{"marker": "no-such-volume"}, {"limit": "ten"}, {"limit": "-1"}]
)
def test_bad_paging_parameters_are_400(api, params):
    response = api.get(f"{api.volumes_url()}/detail", params=params)

    assert response.status_code == 400
    assert response.json()["badRequest"]["code"] == 400


def test_the_list_can_be_sorted(api):
    volumes = api.get(f"{api.volumes_url()}/detail", params={"sort": "size:asc"}).json()["volumes"]

    sizes = [v["size"] for v in volumes]
    assert sizes == sorted(sizes)


def test_another_projects_volume_is_404(api):
    response = api.volume(P2_CENTOS)

    assert response.status_code == 404
    assert response.json() == {
        "itemNotFound": {"code": 404, "message": f"Volume {P2_CENTOS} could not be found."}
    }


def test_an_unknown_volume_is_404(api):
    assert api.volume("00000000-0000-0000-0000-000000000000").status_code == 404


def test_a_token_for_another_projects_url_is_400_like_cinder(api):
    response = api.get(api.volumes_url(project_id=PROJECT_2))

    assert response.status_code == 400
    assert "Malformed request URL" in response.json()["badRequest"]["message"]


def test_v3_answers_like_v2_and_negotiates_microversions(api):
    v2 = api.get(f"{api.volumes_url(2)}/detail").json()["volumes"]
    v3 = api.get(f"{api.volumes_url(3)}/detail", headers={"OpenStack-API-Version": "volume 3.10"})

    assert [v["id"] for v in v3.json()["volumes"]] == [v["id"] for v in v2]
    assert v3.headers["OpenStack-API-Version"] == "volume 3.10"
    too_new = api.get(
        f"{api.volumes_url(3)}/detail", headers={"OpenStack-API-Version": "volume 3.99"}
    )
    assert too_new.status_code == 406


def test_control_patch_changes_what_clients_see(k5sim, api):
    k5sim.control("PATCH", f"volumes/{UBUNTU_FRONT}", json={"status": "error"})
    k5sim.control("PATCH", f"volumes/{DATA_SMALL}", json={"os": "windows"})

    assert api.volume(UBUNTU_FRONT).json()["volume"]["status"] == "error"
    small = api.volume(DATA_SMALL).json()["volume"]
    assert small["volume_image_metadata"]["os_type"] == "windows"
    assert small["bootable"] == "true"


def test_blockstorage_version_document(k5sim):

    response = requests.get(f"{k5sim.base_url}/blockstorage/", timeout=10)

    assert response.status_code == 300
    versions = {v["id"]: v for v in response.json()["versions"]}
    assert versions["v3.0"]["status"] == "CURRENT"
    assert versions["v3.0"]["min_version"] == "3.0" and versions["v3.0"]["version"]
    assert versions["v2.0"]["status"] in ("SUPPORTED", "DEPRECATED")
    self_link = next(link for link in versions["v2.0"]["links"] if link["rel"] == "self")
    assert self_link["href"] == f"{k5sim.base_url}/blockstorage/v2/"
