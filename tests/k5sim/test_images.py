"""Image v2: the image an upload creates, zone sync, listing, deletion."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.k5sim.client import login
from tests.support.demo import (
    CENTOS_WEB,
    DATA_SMALL,
    P2_CENTOS,
    PROJECT_1,
    PROJECT_2,
    RHEL_ARCHIVE,
    RHEL_DB,
    WIN_AD,
    demo_scenario,
    img,
)

GLANCE_KEYS = {
    "id",
    "name",
    "status",
    "visibility",
    "owner",
    "protected",
    "size",
    "checksum",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
}
CENTOS_UPLOAD_SECONDS = 60 + 30 * 12  # centos-web-01 is 30 GB


def start_upload(api, volume_id=CENTOS_WEB, name="web-image"):
    response = api.upload(volume_id, image_name=name)
    assert response.status_code == 202, response.text
    return response.json()["os-volume_upload_image"]["image_id"]


def image(api, image_id):
    response = api.image(image_id)
    assert response.status_code == 200, response.text
    return response.json()


def zone_sync(k5sim, image_id):
    return next(i for i in k5sim.state()["images"] if i["id"] == image_id)["zone_sync"]


def test_an_upload_creates_a_queued_private_image_owned_by_the_project(api):
    image_id = start_upload(api)

    body = image(api, image_id)
    assert set(body) >= GLANCE_KEYS
    assert body["status"] == "queued"
    assert body["name"] == "web-image"
    assert body["owner"] == PROJECT_1
    assert body["visibility"] == "private" and body["protected"] is False
    assert body["size"] is None and body["checksum"] is None
    assert (body["disk_format"], body["container_format"]) == ("raw", "bare")
    assert body["self"] == f"/v2/images/{image_id}"
    assert body["file"] == f"/v2/images/{image_id}/file"
    assert body["schema"] == "/v2/schemas/image"


def test_the_image_carries_the_volumes_os_properties_flat(api):
    body = image(api, start_upload(api, WIN_AD))

    assert body["os_type"] == "windows"
    assert body["fcx.win"] == "true"
    assert body["fcx.base_image_id"] == img(4)
    assert "image_name" not in body  # the source image's name is not copied


def test_the_image_goes_queued_saving_active(k5sim, api):
    image_id = start_upload(api)
    k5sim.advance(4)
    assert image(api, image_id)["status"] == "queued"

    k5sim.advance(2)
    assert image(api, image_id)["status"] == "saving"

    k5sim.advance(CENTOS_UPLOAD_SECONDS - 6 - 1)
    assert image(api, image_id)["status"] == "saving"

    k5sim.advance(2)
    body = image(api, image_id)
    assert body["status"] == "active"
    assert body["size"] == 30 * 1024**3
    assert len(body["checksum"]) == 32
    assert "sync_status_reason" not in body


def test_registration_to_the_other_zone_completes_after_sync_seconds(k5sim, api):
    image_id = start_upload(api)  # a jp-east-1a volume
    k5sim.advance(CENTOS_UPLOAD_SECONDS + 1)
    assert zone_sync(k5sim, image_id)["jp-east-1b"]["status"] == "pending"
    assert zone_sync(k5sim, image_id)["jp-east-1a"]["status"] == "origin"

    k5sim.advance(120)

    assert zone_sync(k5sim, image_id)["jp-east-1b"]["status"] == "registered"
    body = image(api, image_id)
    assert body["status"] == "active" and "sync_status_reason" not in body
    assert not any("zone" in key or "sync" in key for key in body)


def test_upload_failure_leaves_the_image_killed_and_the_volume_available(k5sim, api):
    k5sim.add_fault(kind="upload_failure", volume_id=CENTOS_WEB)
    other = start_upload(api, DATA_SMALL, "other")
    image_id = start_upload(api)

    k5sim.advance(CENTOS_UPLOAD_SECONDS + 1)

    assert image(api, image_id)["status"] == "killed"
    assert image(api, other)["status"] == "active"  # the fault named another volume
    assert api.volume(CENTOS_WEB).json()["volume"]["status"] == "available"
    upload = next(u for u in k5sim.state()["uploads"] if u["image_id"] == image_id)
    assert upload["state"] == "failed"


def test_upload_failure_applies_times_uploads(k5sim, api):
    k5sim.add_fault(kind="upload_failure", times=2)
    images = [
        start_upload(api, v, f"i{n}") for n, v in enumerate((CENTOS_WEB, DATA_SMALL, RHEL_DB))
    ]

    k5sim.advance(60 + 80 * 12 + 1)

    statuses = sorted(image(api, i)["status"] for i in images)
    assert statuses == ["active", "killed", "killed"]


def test_sync_failure_sets_k5s_sync_status_reason_naming_that_zones_server(k5sim, api):
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    image_id = start_upload(api)  # created in jp-east-1a, registered to jp-east-1b
    k5sim.advance(CENTOS_UPLOAD_SECONDS + 119)
    assert "sync_status_reason" not in image(api, image_id)

    k5sim.advance(2)

    body = image(api, image_id)
    assert body["status"] == "active"
    assert body["sync_status_reason"] == (
        "ERROR:A timeout occurred during synchronize image the server(http://192.0.2.12:9292)"
        f" in the image operation. image_id={image_id}"
    )
    assert zone_sync(k5sim, image_id)["jp-east-1b"]["status"] == "failed"


def test_sync_failure_of_the_other_direction_names_the_first_zones_server(k5sim, api):
    image_id = start_upload(api, RHEL_DB)  # jp-east-1b
    # Named by image id: the demo's own upload (also jp-east-1b) finishes first.
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b", image_id=image_id)  # own zone
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1a", image_id=image_id)

    k5sim.advance(60 + 80 * 12 + 121)

    reason = image(api, image_id)["sync_status_reason"]
    assert "server(http://192.0.2.11:9292)" in reason
    assert image(api, img(8)).get("sync_status_reason") is None
    remaining = [f["zone"] for f in k5sim.control("GET", "faults").json()["faults"]]
    assert remaining == ["jp-east-1b"]


def test_volume_vanish_removes_the_volume_and_kills_the_image(k5sim, api):
    k5sim.add_fault(kind="volume_vanish", volume_id=CENTOS_WEB)
    image_id = start_upload(api)
    assert api.volume(CENTOS_WEB).status_code == 200

    k5sim.advance(CENTOS_UPLOAD_SECONDS / 2 + 1)

    assert api.volume(CENTOS_WEB).status_code == 404
    listed = api.get(f"{api.volumes_url()}/detail").json()["volumes"]
    assert CENTOS_WEB not in {v["id"] for v in listed}
    assert image(api, image_id)["status"] == "killed"
    k5sim.advance(CENTOS_UPLOAD_SECONDS)
    assert image(api, image_id)["status"] == "killed"


def test_volume_vanish_hits_an_upload_already_running(k5sim, api):
    k5sim.add_fault(kind="volume_vanish", volume_id=RHEL_ARCHIVE, after_seconds=0)

    k5sim.advance(1)

    assert api.volume(RHEL_ARCHIVE).status_code == 404
    assert image(api, img(8))["status"] == "killed"


def test_control_delete_makes_a_volume_vanish_now(k5sim, api):
    k5sim.control("DELETE", f"volumes/{RHEL_ARCHIVE}")

    assert api.volume(RHEL_ARCHIVE).status_code == 404
    assert image(api, img(8))["status"] == "killed"


def test_deleting_the_image_during_the_upload_returns_the_volume(k5sim, api):
    image_id = start_upload(api)
    assert api.request("DELETE", f"{api.images_url()}/{image_id}").status_code == 204

    k5sim.advance(CENTOS_UPLOAD_SECONDS + 1)

    assert api.volume(CENTOS_WEB).json()["volume"]["status"] == "available"
    assert api.image(image_id).status_code == 404


def test_a_project_sees_its_own_and_public_images_only(api, api2):
    ids1 = {i["id"] for i in api.get(api.images_url()).json()["images"]}
    ids2 = {i["id"] for i in api2.get(api2.images_url()).json()["images"]}

    public = {img(1), img(2), img(3), img(4)}
    assert ids1 == public | {img(8), img(11), img(12)}
    assert ids2 == public | {img(21)}
    assert api2.image(img(11)).status_code == 404


def test_glance_errors_have_glance_shape(api):
    response = api.image("00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "404 Not Found" and body["title"] == "Not Found"
    assert body["message"]


def test_delete_is_204_then_404(api):
    url = f"{api.images_url()}/{img(12)}"

    assert api.request("DELETE", url).status_code == 204
    assert api.request("DELETE", url).status_code == 404
    assert api.image(img(12)).status_code == 404


def test_a_protected_image_cannot_be_deleted(api):
    response = api.request("DELETE", f"{api.images_url()}/{img(11)}")

    assert response.status_code == 409
    assert api.image(img(11)).status_code == 200


def test_another_projects_images_cannot_be_deleted(api):
    assert api.request("DELETE", f"{api.images_url()}/{img(21)}").status_code == 404
    assert api.request("DELETE", f"{api.images_url()}/{img(1)}").status_code == 403


@pytest.fixture
def many_images(k5sim):
    """The demo plus 60 private images of project 1 named img-00 ... img-59."""
    scenario = demo_scenario()
    for n in range(60):
        scenario["images"].append(
            {
                "name": f"img-{n:02d}",
                "owner": "demo-project-1",
                "size": n * 1024,
                "status": "active" if n % 3 else "killed",
                "properties": {"os_type": "windows" if n % 2 else "linux"},
            }
        )
    k5sim.reset(scenario=scenario)
    return login(k5sim)


def test_the_list_pages_25_at_a_time_with_a_relative_next_link(many_images):
    api = many_images
    first = api.get(api.images_url()).json()

    assert len(first["images"]) == 25
    assert first["first"] == "/v2/images"
    assert first["schema"] == "/v2/schemas/images"
    assert first["next"].startswith("/v2/images?")
    assert parse_qs(urlsplit(first["next"]).query) == {"marker": [first["images"][-1]["id"]]}
    seen, body = [], first
    while True:
        seen.extend(i["id"] for i in body["images"])
        if "next" not in body:
            break
        body = api.get(f"{api.base}/image{body['next']}").json()
    # 20 of the 60 are killed, which Glance never lists: 40 + the demo's 7.
    assert len(seen) == len(set(seen)) == 40 + 7


def test_the_next_link_keeps_limit_and_filters(many_images):
    api = many_images
    body = api.get(api.images_url(), params={"limit": 10, "status": "active"}).json()

    query = parse_qs(urlsplit(body["next"]).query)
    assert query["limit"] == ["10"] and query["status"] == ["active"]
    assert query["marker"] == [body["images"][-1]["id"]]


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"name": "img-07"}, lambda i: i["name"] == "img-07"),
        ({"owner": PROJECT_1}, lambda i: i["owner"] == PROJECT_1),
        ({"visibility": "public"}, lambda i: i["visibility"] == "public"),
        ({"os_type": "windows"}, lambda i: i["os_type"] == "windows"),
    ],
)
def test_the_list_filters(many_images, params, check):
    images = many_images.get(many_images.images_url(), params={**params, "limit": 1000}).json()[
        "images"
    ]

    assert images and all(check(i) for i in images)


def test_the_list_filters_on_created_at_in_a_modern_glance(k5sim):
    k5sim.reset(scenario={**demo_scenario(), "glance_release": "modern"})
    api = login(k5sim)
    before = api.get(api.images_url(), params={"limit": 1000}).json()["images"]
    newest = max(i["created_at"] for i in before)
    k5sim.advance(10)
    image_id = start_upload(api)

    after = api.get(api.images_url(), params={"created_at": f"gt:{newest}"}).json()["images"]

    assert [i["id"] for i in after] == [image_id]


def test_the_list_sorts_by_sort_key_and_dir(many_images):
    api = many_images
    images = api.get(
        api.images_url(), params={"sort_key": "name", "sort_dir": "asc", "limit": 1000}
    ).json()["images"]

    names = [i["name"] for i in images]
    assert names == sorted(names)


@pytest.mark.parametrize(
    "params", [{"marker": "nope"}, {"limit": "x"}, {"limit": "-3"}, {"sort_key": "color"}]
)
def test_bad_list_parameters_are_400(api, params):
    response = api.get(api.images_url(), params=params)

    assert response.status_code == 400
    assert response.json()["code"] == "400 Bad Request"


def test_image_version_documents(k5sim):
    for path in ("/image/", "/image/versions"):
        response = requests.get(f"{k5sim.base_url}{path}", timeout=10)
        assert response.status_code == 300
        versions = response.json()["versions"]
        current = [v for v in versions if v["status"] == "CURRENT"]
        assert current[0]["id"].startswith("v2.")
        assert current[0]["links"][0]["href"] == f"{k5sim.base_url}/image/v2/"


def test_project_2_uploads_are_owned_by_project_2(api2):
    image_id = start_upload(api2, P2_CENTOS)

    assert image(api2, image_id)["owner"] == PROJECT_2
