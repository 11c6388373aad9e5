"""A real OpenStack client (openstacksdk, via keystoneauth1 discovery) works unchanged."""

import openstack
import pytest

from tests.support.demo import (
    CENTOS_WEB,
    DATA_SMALL,
    DEMO_CONTRACT,
    DEMO_PASSWORD,
    DEMO_PROJECTS,
    DEMO_REGION,
    DEMO_USER,
)


def connect(k5sim, version: str):
    return openstack.connect(
        auth_url=k5sim.auth_url,
        username=DEMO_USER,
        password=DEMO_PASSWORD,
        user_domain_name=DEMO_CONTRACT,
        project_name=DEMO_PROJECTS[0],
        project_domain_name=DEMO_CONTRACT,
        region_name=DEMO_REGION,
        block_storage_api_version=version,
        load_yaml_config=False,
        load_envvars=False,
    )


@pytest.mark.parametrize("version", ["2", "3"])
def test_openstacksdk_lists_uploads_and_reads_the_image(k5sim, version):
    conn = connect(k5sim, version)
    try:
        volumes = {v.id: v for v in conn.block_storage.volumes()}
        assert volumes[CENTOS_WEB].status == "available"
        assert volumes[DATA_SMALL].size == 1

        # openstacksdk sends force=False and, on v2, disk_format/container_format null.
        result = conn.block_storage.upload_volume_to_image(
            volumes[DATA_SMALL], "sdk-image", force=False
        )
        assert result["status"] == "uploading"
        assert conn.block_storage.get_volume(DATA_SMALL).status == "uploading"

        k5sim.advance(60 + 12 + 1)
        volume = conn.block_storage.wait_for_status(
            conn.block_storage.get_volume(DATA_SMALL), "available", interval=0.1, wait=10
        )
        assert volume.status == "available"

        image = conn.image.get_image(result["image_id"])
        assert image.status == "active"
        assert image.name == "sdk-image"
        assert image.size == 1024**3

        zones = {z.name for z in conn.compute.availability_zones()}
        assert zones == {"jp-east-1a", "jp-east-1b"}
    finally:
        conn.close()
