"""`volume_list_omit`: a volume missing from Cinder's listings for a while (a replica behind,
paging while volumes change) while GET by id still finds it."""

import pytest
import requests

from tests.support.demo import CENTOS_WEB, UBUNTU_APP


def listed(api, detail=True, version=2):
    url = api.volumes_url(version) + ("/detail" if detail else "")
    response = api.get(url)
    assert response.status_code == 200, response.text
    return [volume["id"] for volume in response.json()["volumes"]]


@pytest.mark.parametrize("detail", [True, False])
@pytest.mark.parametrize("version", [2, 3])
def test_the_volume_is_left_out_of_listings_for_the_given_seconds(k5sim, api, detail, version):
    k5sim.add_fault(kind="volume_list_omit", volume_id=CENTOS_WEB, seconds=40)

    assert CENTOS_WEB not in listed(api, detail, version)
    assert UBUNTU_APP in listed(api, detail, version)
    assert api.volume(CENTOS_WEB, version).json()["volume"]["id"] == CENTOS_WEB
    k5sim.advance(30)
    assert CENTOS_WEB not in listed(api, detail, version)

    k5sim.advance(11)

    assert CENTOS_WEB in listed(api, detail, version)


def test_the_fault_shows_until_when_and_goes_when_it_ends(k5sim, api):
    k5sim.add_fault(kind="volume_list_omit", volume_id=CENTOS_WEB, seconds=40)
    (fault,) = k5sim.control("GET", "faults").json()["faults"]
    assert fault["volume_id"] == CENTOS_WEB and fault["until"]

    k5sim.advance(41)

    assert k5sim.control("GET", "faults").json()["faults"] == []


@pytest.mark.parametrize(
    "fault, message",
    [
        ({"seconds": 40}, "a volume_list_omit fault needs 'volume_id'"),
        ({"volume_id": CENTOS_WEB}, "a volume_list_omit fault needs 'seconds', a number > 0"),
        ({"volume_id": CENTOS_WEB, "seconds": 0}, "needs 'seconds', a number > 0"),
        ({"volume_id": CENTOS_WEB, "seconds": "40"}, "needs 'seconds', a number > 0"),
        ({"volume_id": CENTOS_WEB, "seconds": 40, "times": 2}, "'times' does not apply"),
        ({"volume_id": CENTOS_WEB, "seconds": 40, "image_id": "x"}, "unknown key 'image_id'"),
    ],
)
def test_bad_specs_are_refused_naming_the_rule(k5sim, fault, message):
    response = requests.post(
        f"{k5sim.base_url}/_sim/faults", json={"kind": "volume_list_omit", **fault}, timeout=10
    )

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
