"""Every recorded K5 call names the service it went to, so metrics can count calls by service
(K5 tells its services apart by host name, the simulator by path: the client knows both)."""

import pytest

from imaging.k5 import K5Unavailable, blockstorage, compute, image
from tests.support.demo import PROJECT_1, vol

CENTOS_WEB = vol(1)


def test_it_names_the_service_of_every_call(client, records):
    blockstorage.volume_get(client, CENTOS_WEB)
    image.image_list(client, owner=PROJECT_1)
    compute.server_list(client)

    assert [(r.service, r.method) for r in records] == [
        ("identity", "POST"),
        ("blockstorage", "GET"),
        ("image", "GET"),
        ("compute", "GET"),
    ]


def test_a_call_that_never_reached_k5_still_names_its_service(make_client, records):
    client = make_client(auth_url="http://127.0.0.1:9/identity/v3", observer=records.append)
    with pytest.raises(K5Unavailable):
        blockstorage.volume_list(client)

    assert [(r.service, r.status) for r in records] == [("identity", None)]
