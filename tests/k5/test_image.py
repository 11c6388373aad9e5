"""Images: reading, listing, deleting, and K5's availability-zone sync marker."""

from __future__ import annotations

import math

import pytest

from imaging.k5 import K5Conflict, K5NotFound, blockstorage, image
from tests.support.demo import (
    DATA_SMALL,
    GOLDEN_IMAGE,
    OLD_IMAGE,
    P2_IMAGE,
    PROJECT_1,
    PUBLIC_CENTOS_IMAGE,
)

# An upload of the 1 GB volume takes 60 + 12 s, `saving` after 5 s, then 120 s per other zone.
UPLOAD_AND_SYNC_SECONDS = 60 + 12 + 5 + 120 + 30


def test_it_reads_an_image(k5sim, client):
    golden = image.image_get(client, GOLDEN_IMAGE)

    assert (golden.name, golden.status, golden.owner) == (
        "centos-web-01-golden",
        "active",
        PROJECT_1,
    )
    assert golden.protected is True
    assert golden.size == 32212254720
    assert (golden.disk_format, golden.container_format) == ("raw", "bare")
    assert golden.created_at.tzinfo is not None
    assert golden.properties["fcx.base_image_id"] == PUBLIC_CENTOS_IMAGE
    assert golden.sync_status_reason is None and golden.is_usable
    assert (
        golden.request_id
        == k5sim.logged("GET", f"/image/v2/images/{GOLDEN_IMAGE}")[0]["request_id"]
    )


def test_an_unknown_image_is_not_found(client):
    with pytest.raises(K5NotFound) as raised:
        image.image_get(client, "30000000-0000-4000-8000-00000000dead")
    assert raised.value.status == 404 and raised.value.message


def _visible_image_ids(k5sim) -> set[str]:
    return {
        i["id"]
        for i in k5sim.state()["images"]
        if i["owner"] == PROJECT_1 or i["visibility"] == "public"
    }


def test_it_lists_images_with_filters(k5sim, client):
    assert {i.id for i in image.image_list(client)} == _visible_image_ids(k5sim)
    assert [i.id for i in image.images_named(client, "ubuntu-app-01-old", owner=PROJECT_1)] == [
        OLD_IMAGE
    ]
    own = {i.id for i in image.image_list(client, owner=PROJECT_1)}
    assert own == {i["id"] for i in k5sim.state()["images"] if i["owner"] == PROJECT_1}
    assert {GOLDEN_IMAGE, OLD_IMAGE} <= own
    assert [
        i.status for i in image.images_named(client, "rhel-archive-01-image", owner=PROJECT_1)
    ] == ["saving"]
    assert {i.status for i in image.image_list(client, status="active")} == {"active"}
    assert P2_IMAGE not in {i.id for i in image.image_list(client)}


def test_it_lists_images_across_pages(k5sim, make_client):
    client = make_client(page_size=2)
    expected = _visible_image_ids(k5sim)
    assert len(expected) % 2  # not a page multiple

    images = image.image_list(client)

    assert {i.id for i in images} == expected and len(images) == len(expected)
    assert len(k5sim.logged("GET", "/image/v2/images")) == math.ceil(len(expected) / 2)


def test_it_deletes_an_image(k5sim, client):
    request_id = image.image_delete(client, OLD_IMAGE)

    assert request_id == k5sim.logged("DELETE", f"/image/v2/images/{OLD_IMAGE}")[0]["request_id"]
    with pytest.raises(K5NotFound):
        image.image_get(client, OLD_IMAGE)
    with pytest.raises(K5NotFound):
        image.image_delete(client, OLD_IMAGE)


def test_a_protected_image_cannot_be_deleted(client):
    with pytest.raises(K5Conflict) as raised:
        image.image_delete(client, GOLDEN_IMAGE)

    assert raised.value.status == 409 and raised.value.permanent
    assert raised.value.message
    assert image.image_get(client, GOLDEN_IMAGE).status == "active"


def test_a_finished_upload_gives_a_usable_image(k5sim, client):
    accepted = blockstorage.volume_upload_to_image(client, DATA_SMALL, "small")

    k5sim.advance(UPLOAD_AND_SYNC_SECONDS)
    done = image.image_get(client, accepted.image_id)

    assert done.status == "active" and done.sync_status_reason is None and done.is_usable
    assert blockstorage.volume_get(client, DATA_SMALL).status == "available"


def test_a_failed_zone_sync_shows_as_sync_status_reason(k5sim, client):
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    accepted = blockstorage.volume_upload_to_image(client, DATA_SMALL, "small")

    k5sim.advance(UPLOAD_AND_SYNC_SECONDS)
    synced = image.image_get(client, accepted.image_id)

    assert synced.status == "active"
    assert synced.sync_status_reason.startswith("ERROR:A timeout occurred during synchronize")
    assert accepted.image_id in synced.sync_status_reason
    assert not synced.is_usable


def test_a_failed_upload_leaves_a_killed_image(k5sim, client):
    k5sim.add_fault(kind="upload_failure", volume_id=DATA_SMALL)
    accepted = blockstorage.volume_upload_to_image(client, DATA_SMALL, "small")

    k5sim.advance(UPLOAD_AND_SYNC_SECONDS)

    assert image.image_get(client, accepted.image_id).status == "killed"
    assert blockstorage.volume_get(client, DATA_SMALL).status == "available"


def test_a_volume_that_vanishes_mid_upload_is_not_found(k5sim, client):
    k5sim.add_fault(kind="volume_vanish", volume_id=DATA_SMALL)
    accepted = blockstorage.volume_upload_to_image(client, DATA_SMALL, "small")

    k5sim.advance(UPLOAD_AND_SYNC_SECONDS)

    with pytest.raises(K5NotFound):
        blockstorage.volume_get(client, DATA_SMALL)
    assert image.image_get(client, accepted.image_id).status == "killed"
