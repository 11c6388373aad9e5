"""Cinder's clean-up after a failed copy: the `upload_failure` fault's `leaves`."""

import pytest
import requests

from tests.support.demo import CENTOS_BATCH, CENTOS_WEB

CENTOS_UPLOAD_SECONDS = 60 + 30 * 12
BATCH_UPLOAD_SECONDS = 60 + 40 * 12


def start_upload(api, volume_id=CENTOS_WEB, **params):
    return api.upload(volume_id, **params).json()["os-volume_upload_image"]["image_id"]


def listed_ids(api):
    return [image["id"] for image in api.get(api.images_url()).json()["images"]]


def test_a_failure_that_leaves_nothing_deletes_the_image(k5sim, api):
    k5sim.add_fault(kind="upload_failure", volume_id=CENTOS_WEB, leaves="nothing")
    image_id = start_upload(api)
    assert image_id in listed_ids(api)  # saving until the copy fails

    k5sim.advance(CENTOS_UPLOAD_SECONDS + 1)

    assert api.image(image_id).status_code == 404
    assert image_id not in listed_ids(api)
    assert api.volume(CENTOS_WEB).json()["volume"]["status"] == "available"
    upload = next(u for u in k5sim.state()["uploads"] if u["image_id"] == image_id)
    assert upload["state"] == "failed"


def test_an_in_use_volume_goes_back_to_in_use(k5sim, api):
    k5sim.add_fault(kind="upload_failure", leaves="nothing")
    image_id = start_upload(api, CENTOS_BATCH, force=True)

    k5sim.advance(BATCH_UPLOAD_SECONDS + 1)

    assert api.image(image_id).status_code == 404
    assert api.volume(CENTOS_BATCH).json()["volume"]["status"] == "in-use"


def test_killed_stays_the_default(k5sim, api):
    k5sim.add_fault(kind="upload_failure", leaves="killed")
    k5sim.add_fault(kind="upload_failure")
    first, second = start_upload(api), start_upload(api, CENTOS_BATCH, force=True)

    k5sim.advance(BATCH_UPLOAD_SECONDS + 1)

    assert [api.image(i).json()["status"] for i in (first, second)] == ["killed", "killed"]


@pytest.mark.parametrize("leaves", ["deleted", "", None, True])
def test_leaves_is_killed_or_nothing(k5sim, leaves):
    fault = {"kind": "upload_failure", "leaves": leaves}

    response = requests.post(f"{k5sim.base_url}/_sim/faults", json=fault, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "'leaves' must be one of killed, nothing"
