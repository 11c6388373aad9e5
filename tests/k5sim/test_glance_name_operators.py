"""Glance from Mitaka (12.0) on reads `name=` as `op:value`: `eq:`, `in:`, anything else 400.

`mitaka` names that release; `modern` is the same. `legacy` keeps names literal.
"""

import pytest

from tests.k5sim.client import login
from tests.support.demo import PROJECT_1, demo_scenario, img
from tests.support.simulator import start_simulator


def with_names(k5sim, release, *names):
    scenario = demo_scenario()
    scenario["images"] += [
        {"id": img(90 + n), "name": name, "owner": PROJECT_1} for n, name in enumerate(names)
    ]
    k5sim.reset(scenario=scenario, glance_release=release)
    return login(k5sim)


def names(api, name):
    response = api.get(api.images_url(), params={"name": name, "limit": 1000})
    assert response.status_code == 200, response.text
    return sorted(image["name"] for image in response.json()["images"])


def test_the_command_line_chooses_mitaka():
    sim = start_simulator("--glance-release", "mitaka")
    try:
        assert sim.state()["glance_release"] == "mitaka"
    finally:
        sim.stop()


def test_reset_and_a_scenario_choose_mitaka(k5sim):
    k5sim.reset(glance_release="mitaka")
    assert k5sim.state()["glance_release"] == "mitaka"
    k5sim.reset(scenario={**demo_scenario(), "glance_release": "mitaka"})
    assert k5sim.state()["glance_release"] == "mitaka"


@pytest.mark.parametrize("release", ["mitaka", "modern"])
def test_a_name_with_a_colon_is_an_unknown_operator(k5sim, release):
    api = with_names(k5sim, release, "golden:v1")

    response = api.get(api.images_url(), params={"name": "golden:v1"})

    assert response.status_code == 400
    assert response.json()["message"] == "Unable to filter by unknown operator 'golden'."


@pytest.mark.parametrize("release", ["mitaka", "modern"])
def test_eq_and_in_read_as_glance_does(k5sim, release):
    api = with_names(k5sim, release, "golden:v1", "a", "b", "c", "x,y", "in:a,b")

    assert names(api, "eq:golden:v1") == ["golden:v1"]
    assert names(api, "in:a,b") == ["a", "b"]
    assert names(api, 'in:"x,y",c') == ["c", "x,y"]
    assert names(api, "a") == ["a"]


def test_bad_quoting_in_a_list_is_400(k5sim):
    api = with_names(k5sim, "mitaka")

    for value in ('in:"a,b', 'in:"a"b', 'in:a"b"'):
        response = api.get(api.images_url(), params={"name": value})
        assert response.status_code == 400, value
        assert response.json()["message"].startswith(f"Invalid filter value {value[3:]}.")


def test_legacy_keeps_names_literal(k5sim):
    api = with_names(k5sim, "legacy", "golden:v1", "a", "b", "in:a,b")

    assert names(api, "golden:v1") == ["golden:v1"]
    assert names(api, "in:a,b") == ["in:a,b"]
