"""Which failures are retried (GETs: 5xx, lost connections, read timeouts) and how often."""

from __future__ import annotations

import pytest

from imaging.k5 import K5NotFound, K5Unavailable, K5UploadOutcomeUnknown, blockstorage
from tests.k5.proxy import TamperingProxy
from tests.support.demo import CENTOS_WEB, P2_CENTOS, volume_path

GET_PATH = volume_path(CENTOS_WEB)
PATTERN = f"/volumes/{CENTOS_WEB}$"


def test_a_get_answered_503_twice_is_retried_and_succeeds(k5sim, client, records):
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, status=503, times=2)

    volume = blockstorage.volume_get(client, CENTOS_WEB)

    assert volume.id == CENTOS_WEB
    assert [e["status"] for e in k5sim.logged("GET", GET_PATH)] == [503, 503, 200]
    assert [r.status for r in records if r.path == GET_PATH] == [503, 503, 200]


def test_a_get_gives_up_after_the_retry_bound(k5sim, client):
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, status=503, times=5)

    with pytest.raises(K5Unavailable) as raised:
        blockstorage.volume_get(client, CENTOS_WEB)

    assert raised.value.status == 503 and raised.value.permanent is False
    assert raised.value.message
    assert len(k5sim.logged("GET", GET_PATH)) == 3  # 1 + get_retries (2)


def test_the_retry_bound_is_configurable(k5sim, make_client):
    client = make_client(get_retries=0)
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, status=502)

    with pytest.raises(K5Unavailable):
        blockstorage.volume_get(client, CENTOS_WEB)
    assert len(k5sim.logged("GET", GET_PATH)) == 1


def test_a_get_whose_connection_is_reset_is_retried(k5sim, client, records):
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, reset=True)

    assert blockstorage.volume_get(client, CENTOS_WEB).id == CENTOS_WEB
    assert [(r.status, r.error) for r in records if r.path == GET_PATH] == [
        (None, "connection lost"),
        (200, None),
    ]


def test_a_get_that_times_out_is_retried(k5sim, make_client, records):
    client = make_client(read_timeout=0.5, observer=records.append)
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, latency=1.5)

    assert blockstorage.volume_get(client, CENTOS_WEB).id == CENTOS_WEB
    assert [r.error for r in records if r.path == GET_PATH] == ["read timeout", None]


def test_a_get_that_keeps_timing_out_is_unavailable(k5sim, make_client):
    client = make_client(read_timeout=0.3)
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, latency=1, times=3)

    with pytest.raises(K5Unavailable) as raised:
        blockstorage.volume_get(client, CENTOS_WEB)

    assert raised.value.status is None and "read timeout" in raised.value.message


def test_a_not_found_is_not_retried(k5sim, client):
    with pytest.raises(K5NotFound):
        blockstorage.volume_get(client, P2_CENTOS)
    assert len(k5sim.logged("GET", volume_path(P2_CENTOS))) == 1


def test_an_upload_that_cannot_connect_is_unavailable_not_unknown(k5sim, make_client, records):
    with TamperingProxy(k5sim.base_url, lambda path, body: body) as proxy:
        client = make_client(
            auth_url=k5sim.auth_url.replace(k5sim.base_url, proxy.url), observer=records.append
        )
        client.endpoint("blockstorage")  # authenticated through the proxy
    # The proxy is gone: the catalog's endpoints now refuse connections.

    with pytest.raises(K5Unavailable) as raised:
        blockstorage.volume_upload_to_image(client, CENTOS_WEB, "img")

    assert not isinstance(raised.value, K5UploadOutcomeUnknown)
    assert "not sent" in raised.value.message
    assert [r.error for r in records if r.method == "POST" and "action" in r.path] == [
        "cannot connect"
    ]
    assert k5sim.logged("POST", GET_PATH + "/action") == []


def test_an_observer_that_fails_does_not_fail_the_call(make_client, caplog):
    def broken_observer(record):
        raise RuntimeError("audit table is gone")

    client = make_client(observer=broken_observer)

    assert blockstorage.volume_get(client, CENTOS_WEB).id == CENTOS_WEB
    assert "observer failed" in caplog.text
