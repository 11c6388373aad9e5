"""Volumes and the upload action, as the portal's callers see them."""

from __future__ import annotations

import math
import time

import pytest

from imaging.k5 import (
    K5BadRequest,
    K5NotFound,
    K5RateLimited,
    K5Unavailable,
    K5UploadOutcomeUnknown,
    UploadAccepted,
    blockstorage,
    image,
)
from tests.support.demo import (
    BATCH_SERVER,
    CENTOS_BATCH,
    CENTOS_BROKEN,
    CENTOS_WEB,
    DATA_SMALL,
    P2_CENTOS,
    PROJECT_1,
    RHEL_ARCHIVE,
    RHEL_DB,
    UBUNTU_APP,
    WIN_AD,
    volume_path,
)

LIST_PATH = f"/blockstorage/v2/{PROJECT_1}/volumes/detail"
ACTION_PATH = volume_path(CENTOS_WEB) + "/action"


def _project_volume_ids(k5sim, project_id=PROJECT_1, **where) -> set[str]:
    return {
        v["id"]
        for v in k5sim.state()["volumes"]
        if v["project_id"] == project_id and all(v[key] == value for key, value in where.items())
    }


def test_it_reads_a_volume(k5sim, client):
    volume = blockstorage.volume_get(client, CENTOS_WEB)

    assert (volume.name, volume.status, volume.size) == ("centos-web-01", "available", 30)
    assert volume.availability_zone == "jp-east-1a"
    assert volume.bootable is True
    assert volume.volume_type == "M1"
    assert volume.attachments == () and volume.attached_server_id is None
    assert volume.image_metadata["image_name"] == "CentOS 7.9 64bit (English) 01"
    assert volume.os_family == "linux"
    assert volume.request_id == k5sim.logged("GET", volume_path(CENTOS_WEB))[0]["request_id"]


def test_it_reads_attachments_and_os_families(client):
    attached = blockstorage.volume_get(client, CENTOS_BATCH)
    windows = blockstorage.volume_get(client, WIN_AD)
    plain = blockstorage.volume_get(client, DATA_SMALL)

    assert attached.status == "in-use"
    assert attached.attached_server_id == BATCH_SERVER
    assert attached.attachments[0].device == "/dev/vda"
    assert windows.os_family == "windows"
    assert (plain.os_family, plain.bootable) == ("unknown", False)


def test_an_unknown_or_foreign_volume_is_not_found_with_k5s_message(k5sim, client):
    for volume_id in (P2_CENTOS, "10000000-0000-4000-8000-00000000dead"):
        with pytest.raises(K5NotFound) as raised:
            blockstorage.volume_get(client, volume_id)

        entry = k5sim.logged("GET", volume_path(volume_id))[0]
        assert raised.value.status == 404 and raised.value.permanent
        assert volume_id in raised.value.message
        assert raised.value.request_id == entry["request_id"]
        assert raised.value.path == volume_path(volume_id)


def test_it_lists_the_projects_volumes_with_filters(k5sim, client):
    everything = blockstorage.volume_list(client)
    in_use = blockstorage.volume_list(client, status="in-use")
    named = blockstorage.volume_list(client, name="win-ad-01")

    assert {v.id for v in everything} == _project_volume_ids(k5sim)
    assert {v.id for v in in_use} == _project_volume_ids(k5sim, status="in-use")
    assert {v.status for v in in_use} == {"in-use"}
    assert [v.id for v in named] == [WIN_AD]


def test_it_lists_thousands_of_volumes_across_pages(k5sim, client):
    k5sim.control("POST", f"projects/{PROJECT_1}/volumes", json={"count": 2500, "size": 1})
    expected = _project_volume_ids(k5sim)
    assert len(expected) > 2500 and len(expected) % 1000  # not a page multiple

    volumes = blockstorage.volume_list(client)

    assert len(volumes) == len(expected)
    assert {v.id for v in volumes} == expected
    assert len(k5sim.logged("GET", LIST_PATH)) == math.ceil(len(expected) / 1000)


def test_it_uses_block_storage_v3_when_configured(k5sim, make_client):
    client = make_client(block_storage_version="v3")

    volume = blockstorage.volume_get(client, CENTOS_WEB)
    accepted = blockstorage.volume_upload_to_image(client, CENTOS_WEB, "via-v3")

    assert volume.id == CENTOS_WEB and accepted.volume_id == CENTOS_WEB
    assert len(k5sim.logged("GET", volume_path(CENTOS_WEB, version="v3"))) == 1
    assert len(k5sim.logged("POST", volume_path(CENTOS_WEB, version="v3") + "/action")) == 1


def test_an_accepted_upload_names_the_new_image(k5sim, client):
    accepted = blockstorage.volume_upload_to_image(client, CENTOS_WEB, "web-2024-05")

    assert isinstance(accepted, UploadAccepted)
    assert (accepted.volume_id, accepted.image_name, accepted.status) == (
        CENTOS_WEB,
        "web-2024-05",
        "uploading",
    )
    assert accepted.request_id == k5sim.logged("POST", ACTION_PATH)[0]["request_id"]
    assert blockstorage.volume_get(client, CENTOS_WEB).status == "uploading"
    new_image = image.image_get(client, accepted.image_id)
    assert new_image.name == "web-2024-05" and new_image.owner == PROJECT_1
    assert new_image.status in ("queued", "saving")


def test_an_in_use_volume_uploads_only_with_force(client):
    with pytest.raises(K5BadRequest) as raised:
        blockstorage.volume_upload_to_image(client, CENTOS_BATCH, "batch-image")
    assert "in-use" in raised.value.message

    accepted = blockstorage.volume_upload_to_image(
        client, CENTOS_BATCH, "batch-image", force="True"
    )
    assert accepted.status == "uploading"


@pytest.mark.parametrize(
    ("volume_id", "image_name", "options", "words"),
    [
        (CENTOS_BROKEN, "img", {}, "available/in-use"),
        (RHEL_ARCHIVE, "img", {}, "available/in-use"),  # already uploading
        (CENTOS_WEB, "", {}, "image_name"),
        (CENTOS_WEB, "img", {"disk_format": "qcow2"}, "qcow2"),
        (CENTOS_WEB, "img", {"container_format": "ovf"}, "ovf"),
    ],
)
def test_a_refused_upload_is_a_bad_request_with_k5s_message(
    k5sim, client, volume_id, image_name, options, words
):
    with pytest.raises(K5BadRequest) as raised:
        blockstorage.volume_upload_to_image(client, volume_id, image_name, **options)

    entry = k5sim.logged("POST", volume_path(volume_id) + "/action")[0]
    assert raised.value.status == 400 and raised.value.permanent
    assert words in raised.value.message
    assert raised.value.request_id == entry["request_id"]


def test_an_upload_of_an_unknown_volume_is_not_found(client):
    with pytest.raises(K5NotFound):
        blockstorage.volume_upload_to_image(client, P2_CENTOS, "img")


def test_a_force_value_that_is_not_a_boolean_is_refused_before_sending(k5sim, client):
    with pytest.raises(ValueError, match="force"):
        blockstorage.volume_upload_to_image(client, CENTOS_WEB, "img", force="yes please")
    assert k5sim.logged("POST", ACTION_PATH) == []


def test_the_fifth_upload_in_an_hour_is_rate_limited_with_retry_after(k5sim, client):
    for volume_id in (CENTOS_WEB, UBUNTU_APP, RHEL_DB, WIN_AD):
        blockstorage.volume_upload_to_image(client, volume_id, f"img-{volume_id[-2:]}")

    with pytest.raises(K5RateLimited) as raised:
        blockstorage.volume_upload_to_image(client, DATA_SMALL, "one-too-many")

    assert raised.value.status == 413 and raised.value.permanent is False
    assert 0 < raised.value.retry_after <= 3600
    assert "rate-limited" in raised.value.message and "Only 4" in raised.value.message
    assert blockstorage.volume_get(client, DATA_SMALL).status == "available"


def test_an_upload_answered_503_is_not_retried(k5sim, client):
    k5sim.add_fault(kind="http", method="POST", path="/action$", status=503, times=2)

    with pytest.raises(K5Unavailable) as raised:
        blockstorage.volume_upload_to_image(client, CENTOS_WEB, "img")

    assert raised.value.status == 503 and raised.value.permanent is False
    assert len(k5sim.logged("POST", ACTION_PATH)) == 1


def test_an_upload_answered_500_has_an_unknown_outcome(k5sim, client):
    k5sim.add_fault(kind="http", method="POST", path="/action$", status=500)

    with pytest.raises(K5UploadOutcomeUnknown) as raised:
        blockstorage.volume_upload_to_image(client, CENTOS_WEB, "img")

    assert raised.value.status == 500 and raised.value.permanent is False
    assert not isinstance(raised.value, K5Unavailable)  # "retry later" must not catch it
    assert len(k5sim.logged("POST", ACTION_PATH)) == 1


def test_an_upload_whose_connection_is_reset_has_an_unknown_outcome(k5sim, client):
    k5sim.add_fault(kind="http", method="POST", path="/action$", reset=True)

    with pytest.raises(K5UploadOutcomeUnknown) as raised:
        blockstorage.volume_upload_to_image(client, CENTOS_WEB, "img")

    assert raised.value.status is None
    assert "may or may not" in raised.value.message
    assert len(k5sim.logged("POST", ACTION_PATH)) == 1


def test_an_upload_that_times_out_has_an_unknown_outcome_though_k5_accepted_it(k5sim, make_client):
    client = make_client(read_timeout=0.5)
    k5sim.add_fault(kind="http", method="POST", path="/action$", latency=1.5)

    with pytest.raises(K5UploadOutcomeUnknown) as raised:
        blockstorage.volume_upload_to_image(client, CENTOS_WEB, "img")

    assert "read timeout" in raised.value.message
    # Why "unknown" and not "failed": K5 did act on it, once its delay was over.
    time.sleep(1.5)
    assert len(k5sim.logged("POST", ACTION_PATH)) == 1
    assert blockstorage.volume_get(make_client(), CENTOS_WEB).status == "uploading"
