"""The image API of an old Glance (`legacy`, the default) and of today's (`modern`).

legacy is what K5 was built on (Kilo/Liberty): time-comparison filters arrived in Glance 12.0
(Mitaka); before that `created_at=gt:...` is compared to the column by equality and matches
nothing. In both releases the list leaves `killed` and deleted images out.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.k5sim.client import login
from tests.support.demo import CENTOS_WEB, PROJECT_1, demo_scenario, img
from tests.support.simulator import start_simulator

FAR_PAST = "2000-01-01T00:00:00Z"


def listed(api, **params) -> list[dict]:
    response = api.get(api.images_url(), params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["images"]


def with_images(k5sim, *images: dict, **top) -> None:
    scenario = demo_scenario()
    scenario["images"] += list(images)
    k5sim.reset(scenario={**scenario, **top})


def test_it_is_legacy_unless_told_otherwise(k5sim):
    assert k5sim.state()["glance_release"] == "legacy"

    k5sim.reset(glance_release="modern")
    assert k5sim.state()["glance_release"] == "modern"

    k5sim.reset()  # back to what the process started with
    assert k5sim.state()["glance_release"] == "legacy"


def test_a_scenario_can_name_its_release_and_a_bad_one_is_refused(k5sim):
    k5sim.reset(scenario={**demo_scenario(), "glance_release": "modern"})
    assert k5sim.state()["glance_release"] == "modern"

    response = k5sim.http.post(
        f"{k5sim.base_url}/_sim/reset",
        json={"scenario": {**demo_scenario(), "glance_release": "kilo"}},
        timeout=10,
    )
    assert response.status_code == 400
    assert "glance_release" in response.json()["error"]["message"]
    response = k5sim.http.post(
        f"{k5sim.base_url}/_sim/reset", json={"glance_release": "newest"}, timeout=10
    )
    assert response.status_code == 400


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte", "neq"])
def test_legacy_treats_a_time_comparison_as_equality_and_finds_nothing(k5sim, field, op):
    api = login(k5sim)

    assert listed(api, **{field: f"{op}:{FAR_PAST}"}) == []
    assert listed(api, owner=PROJECT_1, **{field: f"{op}:2999-01-01T00:00:00Z"}) == []


def test_legacy_matches_a_time_given_exactly_as_shown(k5sim):
    api = login(k5sim)
    golden = api.image(img(11)).json()

    found = listed(api, created_at=golden["created_at"])

    assert img(11) in [i["id"] for i in found]


def test_modern_compares_times(k5sim):
    k5sim.reset(glance_release="modern")
    api = login(k5sim)

    assert len(listed(api, created_at=f"gt:{FAR_PAST}")) == len(listed(api))
    assert listed(api, created_at="gt:2999-01-01T00:00:00Z") == []


@pytest.mark.parametrize("release", ["legacy", "modern"])
def test_a_killed_image_is_only_seen_by_its_id(k5sim, release):
    k5sim.reset(glance_release=release)
    api = login(k5sim)
    k5sim.add_fault(kind="upload_failure", volume_id=CENTOS_WEB)
    image_id = api.upload(CENTOS_WEB).json()["os-volume_upload_image"]["image_id"]
    k5sim.advance(60 + 12 * 30 + 5)

    assert api.image(image_id).json()["status"] == "killed"
    assert image_id not in [i["id"] for i in listed(api)]
    assert listed(api, status="killed") == []
    assert listed(api, name=api.image(image_id).json()["name"]) == []


@pytest.mark.parametrize("status", ["deleted", "pending_delete"])
def test_a_deleted_image_is_neither_listed_nor_shown(k5sim, status):
    with_images(
        k5sim, {"id": "gone-1", "name": "gone", "owner": "demo-project-1", "status": status}
    )
    api = login(k5sim)

    assert listed(api, name="gone") == []
    assert api.image("gone-1").status_code == 404
    assert api.request("DELETE", f"{api.images_url()}/gone-1").status_code == 404


def test_a_full_page_links_on_even_when_nothing_follows(k5sim):
    api = login(k5sim)
    everything = listed(api)

    page = api.get(api.images_url(), params={"limit": len(everything)}).json()

    assert len(page["images"]) == len(everything)
    marker = parse_qs(urlsplit(page["next"]).query)["marker"]
    assert marker == [everything[-1]["id"]]
    last = api.get(f"{api.base}/image{page['next']}").json()
    assert last["images"] == [] and "next" not in last


def test_newest_first_is_the_default_order_with_the_id_breaking_ties(k5sim):
    api = login(k5sim)

    images = listed(api, sort_key="created_at", sort_dir="desc")

    stamps = [i["created_at"] for i in images]
    assert stamps == sorted(stamps, reverse=True)
    assert [i["id"] for i in images] == [i["id"] for i in listed(api)]


def test_a_list_omit_fault_leaves_an_image_out_of_the_next_listing_only(k5sim):
    api = login(k5sim)
    fault = k5sim.add_fault(kind="list_omit", image_id=img(12))

    assert img(12) not in [i["id"] for i in listed(api)]
    assert api.image(img(12)).status_code == 200
    assert img(12) in [i["id"] for i in listed(api)]
    assert fault not in [f["id"] for f in k5sim.control("GET", "faults").json()["faults"]]


def test_a_sync_failure_can_use_the_misspelt_property(k5sim):
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b", property="sync_reason_status")
    api = login(k5sim)
    image_id = api.upload(CENTOS_WEB).json()["os-volume_upload_image"]["image_id"]
    k5sim.advance(60 + 12 * 30 + 5 + 120 + 5)

    shown = api.image(image_id).json()
    assert shown["status"] == "active"
    assert shown["sync_reason_status"].startswith("ERROR:")
    assert "sync_status_reason" not in shown
    response = k5sim.http.post(
        f"{k5sim.base_url}/_sim/faults",
        json={"kind": "sync_failure", "zone": "jp-east-1b", "property": "sync_reason"},
        timeout=10,
    )
    assert response.status_code == 400


def test_the_request_log_keeps_the_query_string(k5sim):
    api = login(k5sim)
    api.get(api.images_url(), params={"owner": PROJECT_1, "sort_key": "created_at"})

    entry = [e for e in k5sim.requests_log() if e["template"] == "/image/v2/images"][-1]
    assert parse_qs(entry["query"]) == {"owner": [PROJECT_1], "sort_key": ["created_at"]}


def test_the_command_line_chooses_the_release():
    sim = start_simulator("--glance-release", "modern")
    try:
        assert sim.state()["glance_release"] == "modern"
        sim.reset()
        assert sim.state()["glance_release"] == "modern"
    finally:
        sim.stop()
