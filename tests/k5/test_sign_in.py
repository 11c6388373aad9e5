"""When the facade sends the password: only from K5Client.sign_in, and through the owner's
sign-in when the client has one (the job engine's serialises it under a lease).

keystoneauth would sign in again by itself near a token's expiry and after a 401, from any
thread or process; here it never does."""

from __future__ import annotations

import pytest

from imaging.k5 import (
    K5Client,
    K5NotSignedIn,
    K5TokenRejected,
    K5Unavailable,
    blockstorage,
    image,
)
from tests.support.demo import CENTOS_WEB, DATA_SMALL, PROJECT_1, volume_path

TOKEN_PATH = "/identity/v3/auth/tokens"


def statuses(k5sim, method: str, path: str) -> list[int]:
    return [e["status"] for e in k5sim.logged(method, path)]


@pytest.fixture
def owned_client(make_client):
    """A client for the demo project whose sign-ins go through `owner`."""
    made = []

    def build(owner) -> K5Client:
        made.append(K5Client(make_client().config, sign_in=owner))
        return made[-1]

    yield build
    for client in made:
        client.close()


def test_keystoneauth_never_signs_in_by_itself(client):
    with pytest.raises(K5NotSignedIn):
        client.auth.get_access(client.session)
    assert client.auth.invalidate() is False
    assert client.auth.reauthenticate is False


def test_a_token_shorter_than_the_margin_is_not_renewed_before_every_call(k5sim, make_client):
    k5sim.reset(speed=1800)  # tokens live 6 seconds, far less than the 300 s margin
    client = make_client()

    for _ in range(3):
        blockstorage.volume_get(client, CENTOS_WEB)

    assert client.refresh_margin() == pytest.approx(1.5)  # a quarter of its life
    assert statuses(k5sim, "POST", TOKEN_PATH) == [201]


def test_a_revoked_token_is_replaced_once_and_the_call_sent_again(k5sim, client):
    blockstorage.volume_get(client, CENTOS_WEB)
    k5sim.control("DELETE", "tokens")

    assert blockstorage.volume_get(client, CENTOS_WEB).id == CENTOS_WEB

    assert statuses(k5sim, "POST", TOKEN_PATH) == [201, 201]
    assert statuses(k5sim, "GET", volume_path(CENTOS_WEB)) == [200, 401, 200]


def test_an_owner_signs_the_client_in_whenever_it_needs_a_token(k5sim, owned_client):
    calls = []

    def owner(client):
        calls.append("sign in")
        client.sign_in()

    client = owned_client(owner)
    blockstorage.volume_get(client, CENTOS_WEB)
    image.images_named(client, "nothing-of-that-name", owner=PROJECT_1)
    assert calls == ["sign in"]

    k5sim.control("DELETE", "tokens")
    blockstorage.volume_get(client, CENTOS_WEB)

    assert calls == ["sign in", "sign in"]
    assert statuses(k5sim, "POST", TOKEN_PATH) == [201, 201]


def test_an_owner_that_cannot_sign_in_stops_the_call(k5sim, owned_client):
    allowed = [True]

    def owner(client):
        if not allowed[0]:
            raise K5Unavailable("another worker is signing in")
        client.sign_in()

    client = owned_client(owner)
    blockstorage.volume_get(client, CENTOS_WEB)
    k5sim.control("DELETE", "tokens")
    allowed[0] = False

    with pytest.raises(K5Unavailable):
        blockstorage.volume_get(client, CENTOS_WEB)

    assert statuses(k5sim, "POST", TOKEN_PATH) == [201]
    assert statuses(k5sim, "GET", volume_path(CENTOS_WEB)) == [200, 401]


def test_an_upload_refused_for_its_token_is_sent_once_more_and_accepted_once(k5sim, client):
    blockstorage.volume_get(client, DATA_SMALL)
    k5sim.control("DELETE", "tokens")

    accepted = blockstorage.volume_upload_to_image(client, DATA_SMALL, "after-401")

    assert statuses(k5sim, "POST", f"{volume_path(DATA_SMALL)}/action") == [401, 202]
    uploads = [u for u in k5sim.state()["uploads"] if u["volume_id"] == DATA_SMALL]
    assert [u["image_id"] for u in uploads] == [accepted.image_id]


def test_a_fresh_token_refused_again_is_not_tried_a_third_time(k5sim, client):
    blockstorage.volume_get(client, CENTOS_WEB)
    k5sim.add_fault(kind="http", method="GET", path=f"{CENTOS_WEB}$", status=401, times=2)

    with pytest.raises(K5TokenRejected) as raised:
        blockstorage.volume_get(client, CENTOS_WEB)

    assert raised.value.status == 401 and not raised.value.permanent
    assert statuses(k5sim, "POST", TOKEN_PATH) == [201, 201]
    assert statuses(k5sim, "GET", volume_path(CENTOS_WEB)) == [200, 401, 401]
