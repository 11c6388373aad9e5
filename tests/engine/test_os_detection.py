"""Volumes made from K5's own images (an `fcx.<os>` flag, no os_type) or from imported ones
(os_type such as `rhel7`) need no one to say which OS they hold."""

from __future__ import annotations

import pytest

from imaging.engine.validation import check_submission
from tests.support.demo import demo_scenario, vol
from tests.support.jobs import submission

K5_WINDOWS = vol(40)
IMPORTED_RHEL = vol(41)


@pytest.fixture
def k5_style_volumes(k5sim):
    scenario = demo_scenario()
    for volume_id, name, metadata in (
        (K5_WINDOWS, "k5-windows-01", {"fcx.win": "true", "min_disk": "80"}),
        (IMPORTED_RHEL, "imported-rhel-01", {"os_type": "rhel7", "image_name": "rhel7-base"}),
    ):
        scenario["volumes"].append(
            {
                "id": volume_id,
                "name": name,
                "project": "demo-project-1",
                "size": 1,
                "volume_image_metadata": metadata,
            }
        )
    k5sim.reset(scenario=scenario)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("volume_id", "family", "preparation"),
    [
        (K5_WINDOWS, "windows", "windows-sysprep-run"),
        (IMPORTED_RHEL, "linux", "linux-network-settings-removed"),
    ],
)
def test_the_os_of_a_k5_style_volume_is_detected(
    k5_style_volumes, project, volume_id, family, preparation
):
    checked = check_submission(submission(project, volume_id))

    assert (checked.os_family, checked.preparation) == (family, preparation)
