"""Cinder copies a volume to Glance with the caller's token: a copy that outlives that token
leaves its image `saving` for ever and the volume back at rest."""

import pytest

from tests.k5sim.client import login
from tests.support.demo import CENTOS_BATCH, CENTOS_WEB, demo_scenario


def short_tokens(k5sim, seconds, **settings):
    scenario = demo_scenario()
    scenario["settings"].update(token_seconds=seconds, **settings)
    k5sim.reset(scenario=scenario)
    return login(k5sim)


def upload_of(k5sim, image_id):
    return next(u for u in k5sim.state()["uploads"] if u["image_id"] == image_id)


def test_a_copy_that_outlives_the_callers_token_leaves_the_image_saving(k5sim):
    api = short_tokens(k5sim, 300)
    image_id = api.upload(CENTOS_WEB).json()["os-volume_upload_image"]["image_id"]  # 420 s

    k5sim.advance(421 + 100_000)  # long after the copy's end: nothing more happens to it
    fresh = login(k5sim)

    assert fresh.image(image_id).json()["status"] == "saving"
    assert fresh.volume(CENTOS_WEB).json()["volume"]["status"] == "available"
    assert upload_of(k5sim, image_id)["state"] == "token_expired"
    assert image_id in [i["id"] for i in fresh.get(fresh.images_url()).json()["images"]]


def test_an_in_use_volume_goes_back_to_in_use(k5sim):
    api = short_tokens(k5sim, 300)
    image_id = api.upload(CENTOS_BATCH, force=True).json()["os-volume_upload_image"]["image_id"]

    k5sim.advance(541)
    fresh = login(k5sim)

    assert fresh.volume(CENTOS_BATCH).json()["volume"]["status"] == "in-use"
    assert fresh.image(image_id).json()["status"] == "saving"


def test_a_token_that_outlives_the_copy_gives_an_active_image(k5sim):
    api = short_tokens(k5sim, 425)
    image_id = api.upload(CENTOS_WEB).json()["os-volume_upload_image"]["image_id"]

    k5sim.advance(421)

    assert api.image(image_id).json()["status"] == "active"
    assert upload_of(k5sim, image_id)["state"] == "succeeded"


def test_the_setting_off_lets_every_copy_complete(k5sim):
    api = short_tokens(k5sim, 300, copy_uses_caller_token=False)
    image_id = api.upload(CENTOS_WEB).json()["os-volume_upload_image"]["image_id"]

    k5sim.advance(421)

    assert login(k5sim).image(image_id).json()["status"] == "active"


@pytest.mark.parametrize("value", [1, "yes", None])
def test_the_setting_is_true_or_false(k5sim, value):
    scenario = demo_scenario()
    scenario["settings"]["copy_uses_caller_token"] = value

    response = k5sim.http.post(f"{k5sim.base_url}/_sim/reset", json={"scenario": scenario})

    assert response.status_code == 400
    assert "settings.copy_uses_caller_token: must be true or false" in response.text
