"""The image calls coded to the oldest Glance K5 can run, tried on the simulator's `legacy`
release (its default): equality filters, newest-first pages, no time comparison."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from imaging.k5 import blockstorage, image
from imaging.k5.types import Image
from tests.support.demo import CENTOS_WEB, DATA_SMALL, PROJECT_1, UBUNTU_APP

UPLOAD_SECONDS = 60 + 12 * 30 + 5  # the longest of the uploads below, and `saving` after 5 s


def list_queries(k5sim) -> list[dict[str, list[str]]]:
    return [
        parse_qs(entry["query"])
        for entry in k5sim.requests_log()
        if entry["method"] == "GET" and entry["path"] == "/image/v2/images"
    ]


def fresh_uploads(k5sim, client) -> list[str]:
    """Three uploads an hour (K5 time) after the demo's images: their ids, oldest first."""
    k5sim.advance(3600)
    ids = []
    for volume_id in (CENTOS_WEB, UBUNTU_APP, DATA_SMALL):
        ids.append(blockstorage.volume_upload_to_image(client, volume_id, "fresh").image_id)
        k5sim.advance(2)  # distinct creation seconds
    return ids


def test_it_lists_recent_images_newest_first_without_a_time_filter(k5sim, client):
    ids = fresh_uploads(k5sim, client)
    k5sim.clear_requests()

    recent = image.image_list_since(
        client, owner=PROJECT_1, created_since=datetime.now(UTC) + timedelta(minutes=30)
    )

    assert [i.id for i in recent] == ids[::-1]
    queries = list_queries(k5sim)
    assert len(queries) == 1
    assert queries[0]["owner"] == [PROJECT_1]
    assert (queries[0]["sort_key"], queries[0]["sort_dir"]) == (["created_at"], ["desc"])
    assert not {"created_at", "updated_at"} & set(queries[0])


def test_it_stops_at_the_first_older_image_instead_of_reading_every_page(k5sim, make_client):
    client = make_client(page_size=2)
    ids = fresh_uploads(k5sim, client)
    owned = [i for i in k5sim.state()["images"] if i["owner"] == PROJECT_1]
    # 3 fresh and 3 from the demo: read to the end, that is 4 pages of 2 (the last one empty,
    # as Glance links on from every full page).
    assert len(owned) == 6
    k5sim.clear_requests()

    recent = image.image_list_since(
        client, owner=PROJECT_1, created_since=datetime.now(UTC) + timedelta(minutes=30)
    )

    assert [i.id for i in recent] == ids[::-1]
    assert len(k5sim.logged("GET", "/image/v2/images")) == 2  # 2 recent, then 1 and an old one


def test_a_killed_image_is_not_listed_but_is_found_by_its_id(k5sim, client):
    k5sim.add_fault(kind="upload_failure", volume_id=DATA_SMALL)
    accepted = blockstorage.volume_upload_to_image(client, DATA_SMALL, "doomed")
    k5sim.advance(UPLOAD_SECONDS)

    listed = image.image_list_since(
        client, owner=PROJECT_1, created_since=datetime.now(UTC) - timedelta(hours=1)
    )

    assert accepted.image_id not in {i.id for i in listed}
    assert image.images_named(client, "doomed", owner=PROJECT_1) == []
    assert image.image_get(client, accepted.image_id).status == "killed"


def test_the_list_filters_by_equality(k5sim, client):
    public = image.image_list(client, visibility="public")
    mine = image.image_list(client, owner=PROJECT_1, status="active")

    assert public and {i.visibility for i in public} == {"public"}
    assert mine and {(i.owner, i.status) for i in mine} == {(PROJECT_1, "active")}
    for query in list_queries(k5sim):
        assert not {"created_at", "updated_at"} & set(query)


def test_the_moment_must_be_timezone_aware(client):
    with pytest.raises(ValueError, match="timezone"):
        image.image_list_since(client, owner=PROJECT_1, created_since=datetime(2024, 1, 1))


@pytest.mark.parametrize("spelling", ["sync_status_reason", "sync_reason_status"])
def test_either_spelling_of_the_sync_property_is_read(k5sim, client, spelling):
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b", property=spelling)
    accepted = blockstorage.volume_upload_to_image(client, DATA_SMALL, "small")
    k5sim.advance(60 + 12 + 5 + 120 + 30)

    synced = image.image_get(client, accepted.image_id)

    assert synced.status == "active"
    assert synced.sync_status_reason.startswith("ERROR:A timeout occurred during synchronize")
    assert not synced.is_usable


def test_the_documented_spelling_wins_and_an_empty_value_is_no_reason():
    both = Image.from_api(
        {"id": "i", "sync_status_reason": "ERROR:a", "sync_reason_status": "ERROR:b"}
    )
    empty = Image.from_api({"id": "i", "status": "active", "sync_reason_status": ""})

    assert both.sync_status_reason == "ERROR:a"
    assert empty.sync_status_reason is None and empty.is_usable
