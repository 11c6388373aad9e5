"""Authentication, the catalog, token life and the never-retry-a-password rule."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from imaging.k5 import (
    K5CredentialError,
    K5EndpointNotFound,
    K5Unavailable,
    blockstorage,
    compute,
    image,
)
from tests.support.demo import (
    CENTOS_WEB,
    DEMO_PASSWORD,
    DEMO_USER_ID,
    LOCK_PASSWORD,
    LOCK_USER,
    P2_CENTOS,
    PROJECT_1,
    PROJECT_2,
    volume_path,
)

TOKEN_PATH = "/identity/v3/auth/tokens"


def test_it_authenticates_with_contract_username_and_project_id(k5sim, client):
    volume = blockstorage.volume_get(client, CENTOS_WEB)

    assert volume.name == "centos-web-01"
    assert client.project_id == PROJECT_1
    assert [entry["status"] for entry in k5sim.logged("POST", TOKEN_PATH)] == [201]


def test_it_scopes_to_a_project_by_name_in_the_contract_domain(make_client):
    client = make_client(project_id=None, project_name="demo-project-2")

    assert client.project_id == PROJECT_2
    assert blockstorage.volume_get(client, P2_CENTOS).name == "p2-centos-01"


def test_it_authenticates_a_user_by_id(make_client):
    client = make_client(user_id=DEMO_USER_ID, username=None, contract=None)

    assert blockstorage.volume_get(client, CENTOS_WEB).id == CENTOS_WEB


def test_it_finds_each_endpoint_by_name_in_the_region(k5sim, make_client):
    v2, v3 = make_client(), make_client(block_storage_version="v3")

    assert v2.endpoint("blockstorage") == f"{k5sim.base_url}/blockstorage/v2/{PROJECT_1}"
    assert v3.endpoint("blockstorage") == f"{k5sim.base_url}/blockstorage/v3/{PROJECT_1}"
    assert v2.endpoint("image") == f"{k5sim.base_url}/image"
    assert v2.endpoint("compute") == f"{k5sim.base_url}/compute/v2/{PROJECT_1}"


def test_a_wrong_region_is_a_clear_permanent_error(k5sim, make_client):
    client = make_client(region="uk-1")

    with pytest.raises(K5EndpointNotFound) as raised:
        blockstorage.volume_get(client, CENTOS_WEB)

    message = str(raised.value)
    assert "'blockstoragev2'" in message and "'uk-1'" in message and "jp-east-1" in message
    assert raised.value.permanent
    assert k5sim.logged("GET", volume_path(CENTOS_WEB)) == []


def test_a_wrong_password_is_sent_once_and_never_again(k5sim, make_client, records):
    client = make_client(password="not-the-password", observer=records.append)

    with pytest.raises(K5CredentialError) as first:
        blockstorage.volume_list(client)
    for call in (
        lambda: blockstorage.volume_get(client, CENTOS_WEB),
        lambda: image.image_list(client),
        lambda: compute.availability_zone_list(client),
        lambda: blockstorage.volume_upload_to_image(client, CENTOS_WEB, "x"),
    ):
        with pytest.raises(K5CredentialError) as again:
            call()
        assert again.value.permanent

    assert first.value.status == 401 and first.value.permanent
    assert first.value.message  # Keystone's own words
    assert first.value.request_id
    assert len(k5sim.logged("POST", TOKEN_PATH)) == 1
    assert len(k5sim.requests_log()) == 1  # nothing else was sent either
    assert [(r.method, r.path, r.status) for r in records] == [("POST", TOKEN_PATH, 401)]
    assert "not-the-password" not in repr(first.value) + str(first.value)


def test_a_locked_user_gets_a_credential_error_even_with_the_right_password(k5sim, make_client):
    for _ in range(5):
        with pytest.raises(K5CredentialError):
            make_client(username=LOCK_USER, password="wrong").project_id  # noqa: B018

    locked = make_client(username=LOCK_USER, password=LOCK_PASSWORD)
    with pytest.raises(K5CredentialError) as raised:
        blockstorage.volume_list(locked)

    assert raised.value.status == 401
    assert len(k5sim.logged("POST", TOKEN_PATH)) == 6


def test_an_expired_token_is_renewed_once_and_the_call_succeeds(k5sim, client):
    blockstorage.volume_get(client, CENTOS_WEB)

    k5sim.advance(3 * 3600 + 60)  # K5 expires the token; the client still believes in it
    volume = blockstorage.volume_get(client, CENTOS_WEB)

    assert volume.id == CENTOS_WEB
    assert len(k5sim.logged("POST", TOKEN_PATH)) == 2
    assert [e["status"] for e in k5sim.logged("GET", volume_path(CENTOS_WEB))] == [200, 401, 200]


def test_a_token_is_renewed_before_it_expires(k5sim, make_client):
    k5sim.reset(speed=1800)  # tokens live 6 seconds
    client = make_client(token_refresh_margin=3)
    # The margin is at most a quarter of the token's life: 1.5 s here.

    blockstorage.volume_get(client, CENTOS_WEB)
    assert client.refresh_margin() == pytest.approx(1.5)
    blockstorage.volume_get(client, CENTOS_WEB)
    assert len(k5sim.logged("POST", TOKEN_PATH)) == 1  # fresh token reused

    # The client's copy of the token 4.7 s older — about 1.3 s of life left — while K5 still
    # holds it valid: no wall-clock wait, so a slow machine cannot let K5 expire it first.
    token = client.auth.auth_ref._data["token"]
    for moment in ("issued_at", "expires_at"):
        when = datetime.fromisoformat(token[moment].replace("Z", "+00:00"))
        token[moment] = (when - timedelta(seconds=4.7)).isoformat()
    blockstorage.volume_get(client, CENTOS_WEB)

    assert len(k5sim.logged("POST", TOKEN_PATH)) == 2
    assert {e["status"] for e in k5sim.logged("GET", volume_path(CENTOS_WEB))} == {200}


def test_an_unreachable_identity_service_is_a_transient_error(make_client, records):
    client = make_client(auth_url="http://127.0.0.1:9/identity/v3", observer=records.append)

    with pytest.raises(K5Unavailable) as raised:
        blockstorage.volume_list(client)

    assert raised.value.permanent is False
    assert [(r.method, r.path, r.status) for r in records] == [("POST", TOKEN_PATH, None)]


def test_the_observer_sees_every_call_without_credentials(k5sim, client, records):
    blockstorage.volume_get(client, CENTOS_WEB)
    token = client.auth.get_access(client.session).auth_token

    assert [(r.method, r.path, r.status) for r in records] == [
        ("POST", TOKEN_PATH, 201),
        ("GET", volume_path(CENTOS_WEB), 200),
    ]
    assert [r.request_id for r in records] == [e["request_id"] for e in k5sim.requests_log()]
    assert all(r.duration >= 0 for r in records)
    text = repr(records)
    assert DEMO_PASSWORD not in text and token not in text


def test_secrets_stay_out_of_reprs(client):
    text = repr(client) + repr(client.config) + str(client.config) + repr(client.auth)
    assert DEMO_PASSWORD not in text
