"""Any image name a person types is checked for namesakes exactly, on every Glance release:
the name never goes into a Glance filter, where Glance from Mitaka on reads ':' and ','."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from imaging.engine.errors import Refusal
from imaging.engine.validation import check_submission
from imaging.models import ImageJob
from tests.support.demo import OLD_IMAGE, WIN_AD, demo_scenario, img
from tests.support.jobs import submission, submit

LIST = "/image/v2/images"


def with_images(*names: str) -> dict:
    """The demo scenario plus one image of demo-project-1 per name."""
    scenario = demo_scenario()
    template = next(i for i in scenario["images"] if i["id"] == OLD_IMAGE)
    for n, name in enumerate(names, start=90):
        scenario["images"].append({**template, "id": img(n), "name": name, "protected": False})
    return scenario


def reset(k5sim, release: str, *names: str) -> None:
    k5sim.reset(scenario=with_images(*names), glance_release=release)


def name_filters_sent(k5sim) -> list[list[str]]:
    return [
        parse_qs(e["query"])["name"]
        for e in k5sim.requests_log()
        if e["method"] == "GET" and e["path"] == LIST and "name" in parse_qs(e["query"])
    ]


def taken(project, name: str) -> Refusal:
    with pytest.raises(Refusal) as caught:
        check_submission(submission(project, image_name=name))
    return caught.value


@pytest.fixture
def mitaka(k5sim):
    """A Glance that reads `name=` as `<operator>:<value>`, holding an image named `x`."""
    reset(k5sim, "mitaka", "x", "golden:v2")


@pytest.mark.django_db
def test_names_with_operators_are_queued_on_a_glance_that_reads_operators(
    mitaka, k5sim, project, bob
):
    golden = submit(project, bob, image_name="golden:v1")
    either = submit(project, bob, WIN_AD, image_name="in:x")

    assert [golden.image_name, either.image_name] == ["golden:v1", "in:x"]
    assert ImageJob.objects.count() == 2


@pytest.mark.django_db
def test_a_real_namesake_with_an_operator_is_still_refused_on_a_glance_that_reads_operators(
    mitaka, k5sim, project
):
    refused = taken(project, "golden:v2")

    assert refused.code == "image_name_taken"
    assert "An image named 'golden:v2' already exists" in refused.message


@pytest.mark.django_db
@pytest.mark.parametrize("release", ["legacy", "modern"])
def test_names_are_compared_exactly_and_never_sent_as_a_filter(k5sim, release, project):
    reset(k5sim, release, "x", "a,b", "ゴールデン イメージ:v1")
    k5sim.clear_requests()

    for free in ("in:x", "in:a,b", "a", "ゴールデン イメージ"):
        assert check_submission(submission(project, image_name=free)).volume.id
    for used in ("x", "a,b", "ゴールデン イメージ:v1"):
        assert taken(project, used).code == "image_name_taken"
    assert name_filters_sent(k5sim) == []
