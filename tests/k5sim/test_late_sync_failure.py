"""`sync_failure` with `after_seconds`: a registration to another zone that looked fine fails
late — K5's `sync_status_reason` appears at active + after_seconds."""

import pytest
import requests

from tests.support.demo import CENTOS_WEB, ZONE_B_SERVER

CENTOS_UPLOAD_SECONDS = 60 + 30 * 12  # a jp-east-1a volume: registered to jp-east-1b


def sync_reason(api, image_id):
    return api.image(image_id).json().get("sync_status_reason")


def test_the_reason_appears_after_seconds_after_active(k5sim, api):
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b", after_seconds=600)
    image_id = api.upload(CENTOS_WEB).json()["os-volume_upload_image"]["image_id"]
    k5sim.advance(CENTOS_UPLOAD_SECONDS + 1)
    assert api.image(image_id).json()["status"] == "active"

    k5sim.advance(300)  # past sync_seconds (120): looks registered
    assert sync_reason(api, image_id) is None
    state = next(i for i in k5sim.state()["images"] if i["id"] == image_id)
    assert state["zone_sync"]["jp-east-1b"]["status"] == "registered"
    k5sim.advance(298)
    assert sync_reason(api, image_id) is None

    k5sim.advance(2)

    reason = sync_reason(api, image_id)
    assert reason.startswith("ERROR:A timeout occurred") and ZONE_B_SERVER in reason
    assert api.image(image_id).json()["status"] == "active"
    state = next(i for i in k5sim.state()["images"] if i["id"] == image_id)
    assert state["zone_sync"]["jp-east-1b"]["status"] == "failed"


def test_the_other_spelling_is_kept(k5sim, api):
    k5sim.add_fault(
        kind="sync_failure", zone="jp-east-1b", after_seconds=600, property="sync_reason_status"
    )
    image_id = api.upload(CENTOS_WEB).json()["os-volume_upload_image"]["image_id"]

    k5sim.advance(CENTOS_UPLOAD_SECONDS + 601)

    assert api.image(image_id).json()["sync_reason_status"].startswith("ERROR:")


@pytest.mark.parametrize("after", [-1, "600", True])
def test_after_seconds_is_a_number_of_seconds(k5sim, after):
    fault = {"kind": "sync_failure", "zone": "jp-east-1b", "after_seconds": after}

    response = requests.post(f"{k5sim.base_url}/_sim/faults", json=fault, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "'after_seconds' must be a number >= 0"
