"""`os-volume_upload_image`: validation, the 202 body, volume status, duration, rate limit."""

import pytest

from tests.k5sim.client import login
from tests.support.demo import (
    CENTOS_BATCH,
    CENTOS_BROKEN,
    CENTOS_WEB,
    DATA_LARGE,
    DATA_SMALL,
    P2_CENTOS,
    P2_DATA,
    PROJECT_1,
    RHEL_ARCHIVE,
    RHEL_DB,
    UBUNTU_APP,
    UBUNTU_FRONT,
    WIN_AD,
    demo_scenario,
    img,
)

VENDOR_KEYS = {
    "status",
    "image_id",
    "image_name",
    "volume_type",
    "container_format",
    "size",
    "disk_format",
    "id",
    "display_description",
    "updated_at",
}
VOLUME_TYPE_KEYS = {
    "name",
    "qos_specs_id",
    "deleted",
    "created_at",
    "updated_at",
    "deleted_at",
    "id",
}


def volume_status(api, volume_id):
    return api.volume(volume_id).json()["volume"]["status"]


def test_an_accepted_upload_answers_202_with_the_vendors_body(api):
    response = api.upload(
        CENTOS_WEB, image_name="web-2024", force="False", disk_format="raw", container_format="bare"
    )

    assert response.status_code == 202
    body = response.json()["os-volume_upload_image"]
    assert set(body) == VENDOR_KEYS
    assert body["status"] == "uploading"
    assert body["id"] == CENTOS_WEB
    assert body["image_name"] == "web-2024"
    assert body["size"] == 30
    assert body["disk_format"] == "raw" and body["container_format"] == "bare"
    assert body["display_description"] is None
    assert set(body["volume_type"]) == VOLUME_TYPE_KEYS
    assert body["volume_type"]["name"] == "M1" and body["volume_type"]["deleted"] is False
    assert response.headers["x-openstack-request-id"].startswith("req-")


def test_a_volume_without_type_answers_volume_type_null(api2):
    body = api2.upload(P2_DATA).json()["os-volume_upload_image"]

    assert body["volume_type"] is None


def test_null_formats_default_to_raw_and_bare_as_openstacksdk_sends_them(api):
    response = api.upload(CENTOS_WEB, force=False, disk_format=None, container_format=None)

    assert response.status_code == 202
    body = response.json()["os-volume_upload_image"]
    assert (body["disk_format"], body["container_format"]) == ("raw", "bare")


@pytest.mark.parametrize("force", [True, False, "True", "False", "true", "FALSE", None])
def test_force_accepts_booleans_and_true_false_strings_for_an_available_volume(api, force):
    assert api.upload(CENTOS_WEB, force=force).status_code == 202


@pytest.mark.parametrize("force", [True, "True", "tRUE"])
def test_force_true_uploads_an_in_use_volume(api, force):
    response = api.upload(CENTOS_BATCH, force=force)

    assert response.status_code == 202
    assert volume_status(api, CENTOS_BATCH) == "uploading"


@pytest.mark.parametrize("params", [{}, {"force": False}, {"force": "False"}])
def test_an_in_use_volume_without_force_is_400(api, params):
    response = api.upload(CENTOS_BATCH, **params)

    assert response.status_code == 400
    assert response.json() == {
        "badRequest": {"code": 400, "message": "Invalid volume: Volume status is in-use."}
    }


@pytest.mark.parametrize("force", ["yes", "1", 1, 0, [], {"x": 1}, "Truee"])
def test_any_other_force_value_is_400(api, force):
    response = api.upload(CENTOS_WEB, force=force)

    assert response.status_code == 400
    assert "force" in response.json()["badRequest"]["message"]
    assert volume_status(api, CENTOS_WEB) == "available"


@pytest.mark.parametrize("params", [{"image_name": None}, {"image_name": ""}])
def test_a_missing_image_name_is_400(api, params):
    body = {"os-volume_upload_image": {k: v for k, v in params.items() if v is not None}}

    response = api.action(CENTOS_WEB, body)

    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "No image_name was specified in request."


@pytest.mark.parametrize(
    "params",
    [
        {"disk_format": "qcow2"},
        {"container_format": "ovf"},
        {"disk_format": "RAW"},
        {"image_name": 42},
    ],
)
def test_other_formats_and_wrong_types_are_400(api, params):
    response = api.upload(CENTOS_WEB, **params)

    assert response.status_code == 400
    assert volume_status(api, CENTOS_WEB) == "available"


@pytest.mark.parametrize("volume_id", [CENTOS_BROKEN, RHEL_ARCHIVE])
def test_a_volume_neither_available_nor_in_use_is_400(api, volume_id):
    response = api.upload(volume_id, force=True)

    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == (
        "Invalid volume: Volume status must be available/in-use."
    )


@pytest.mark.parametrize("volume_id", ["00000000-0000-0000-0000-000000000000", P2_CENTOS])
def test_an_unknown_or_foreign_volume_is_404(api, volume_id):
    response = api.upload(volume_id)

    assert response.status_code == 404
    assert "itemNotFound" in response.json()


@pytest.mark.parametrize(
    "body", [{"os-attach": {"instance_uuid": "x"}}, {"os-volume_upload_image": "name"}, [], "text"]
)
def test_other_actions_and_malformed_bodies_are_400(api, body):
    response = api.action(CENTOS_WEB, body)

    assert response.status_code == 400
    assert "badRequest" in response.json()


def test_the_volume_is_uploading_then_available_after_a_size_proportional_time(k5sim, api):
    api.upload(UBUNTU_APP)  # 20 GB: 60 + 20 * 12 = 300 K5 seconds
    api.upload(DATA_SMALL)  # 1 GB: 60 + 12 = 72 K5 seconds
    assert volume_status(api, UBUNTU_APP) == volume_status(api, DATA_SMALL) == "uploading"

    k5sim.advance(70)
    assert volume_status(api, DATA_SMALL) == "uploading"
    k5sim.advance(4)
    assert volume_status(api, DATA_SMALL) == "available"
    assert volume_status(api, UBUNTU_APP) == "uploading"

    k5sim.advance(300 - 74 + 1)
    assert volume_status(api, UBUNTU_APP) == "available"


def test_a_forced_in_use_volume_returns_to_in_use(k5sim, api):
    api.upload(CENTOS_BATCH, force=True)  # 40 GB: 540 s
    k5sim.advance(539)
    assert volume_status(api, CENTOS_BATCH) == "uploading"

    k5sim.advance(2)

    body = api.volume(CENTOS_BATCH).json()["volume"]
    assert body["status"] == "in-use"
    assert body["attachments"]


def test_a_second_upload_of_an_uploading_volume_is_400(api):
    assert api.upload(RHEL_DB).status_code == 202

    assert api.upload(RHEL_DB).status_code == 400


def test_durations_come_from_the_scenario_settings(k5sim):
    scenario = demo_scenario()
    scenario["settings"].update(upload_base_seconds=10, upload_seconds_per_gb=1)
    k5sim.reset(scenario=scenario)
    api = login(k5sim)
    api.upload(CENTOS_WEB)  # 10 + 30 = 40 s

    k5sim.advance(41)

    assert volume_status(api, CENTOS_WEB) == "available"


def test_the_fifth_upload_within_an_hour_is_413_with_retry_after(k5sim, api):
    for volume_id in (CENTOS_WEB, UBUNTU_APP, RHEL_DB, WIN_AD):
        assert api.upload(volume_id).status_code == 202

    response = api.upload(DATA_SMALL)

    assert response.status_code == 413
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit() and 3590 <= int(retry_after) <= 3600
    fault = response.json()["overLimit"]
    assert fault["code"] == 413 and fault["message"]
    assert fault["retryAfter"] == retry_after
    assert volume_status(api, DATA_SMALL) == "available"


def test_the_limit_is_per_project(api, api2):
    for volume_id in (CENTOS_WEB, UBUNTU_APP, RHEL_DB, WIN_AD):
        api.upload(volume_id)

    assert api2.upload(P2_CENTOS).status_code == 202


def test_refused_uploads_do_not_use_the_quota(k5sim, api):
    for _ in range(6):
        api.upload(CENTOS_BROKEN)  # 400: not counted
    for volume_id in (CENTOS_WEB, UBUNTU_APP, RHEL_DB, WIN_AD):
        assert api.upload(volume_id).status_code == 202


def test_a_slot_opens_when_the_oldest_upload_leaves_the_hour(k5sim, api):
    api.upload(CENTOS_WEB)
    k5sim.advance(1800)
    for volume_id in (UBUNTU_APP, RHEL_DB, WIN_AD):
        api.upload(volume_id)
    refused = api.upload(DATA_SMALL)
    assert refused.status_code == 413
    assert 1790 <= int(refused.headers["Retry-After"]) <= 1800

    k5sim.advance(int(refused.headers["Retry-After"]) + 1)

    assert api.upload(DATA_SMALL).status_code == 202
    assert api.upload(DATA_LARGE).status_code == 413


def test_retry_after_is_in_real_seconds_at_speed(k5sim):
    k5sim.reset(speed=60)
    api = login(k5sim)
    for volume_id in (CENTOS_WEB, UBUNTU_APP, RHEL_DB, WIN_AD):
        api.upload(volume_id)

    response = api.upload(DATA_SMALL)

    assert response.status_code == 413
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_the_demo_upload_started_long_ago_and_does_not_use_the_quota(k5sim, api):
    state = k5sim.state()
    assert state["rate_limit"][PROJECT_1]["accepted_in_window"] == 0

    k5sim.advance(861)  # 400 GB: 4860 s, of which 4000 s had passed at reset

    assert volume_status(api, RHEL_ARCHIVE) == "available"
    assert api.image(img(8)).json()["status"] == "active"


@pytest.mark.parametrize("version", [2, 3])
def test_v3_uploads_like_v2(k5sim, api, version):
    response = api.upload(UBUNTU_FRONT, version=version, force="True")

    assert response.status_code == 202
    assert api.volume(UBUNTU_FRONT, version).json()["volume"]["status"] == "uploading"


def test_v3_from_3_1_accepts_visibility_and_protected(api):
    response = api.upload(
        CENTOS_WEB,
        version=3,
        visibility="private",
        protected=True,
        headers={"OpenStack-API-Version": "volume 3.1"},
    )

    body = response.json()["os-volume_upload_image"]
    assert response.status_code == 202
    assert body["protected"] is True and body["visibility"] == "private"
    assert api.image(body["image_id"]).json()["protected"] is True
