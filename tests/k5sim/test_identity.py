"""Identity v3: how a client authenticates, what the token says, expiry and lockout."""

from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.k5sim.client import authenticate, demo_user, login, password_auth, project_scope
from tests.support.demo import (
    DEMO_USER_ID,
    DOMAIN_ID,
    LOCK_PASSWORD,
    LOCK_USER_ID,
    PROJECT_1,
    PROJECT_2,
)

KEYSTONE_TIME = "%Y-%m-%dT%H:%M:%S.000000Z"


def parse_keystone(text: str) -> datetime:
    return datetime.strptime(text, KEYSTONE_TIME).replace(tzinfo=UTC)


def lock_user(password: str = LOCK_PASSWORD) -> dict:
    return {"id": LOCK_USER_ID, "password": password}


@pytest.mark.parametrize(
    "user",
    [
        {"id": DEMO_USER_ID, "password": "demo-password"},
        {"name": "demo-user", "domain": {"name": "demo"}, "password": "demo-password"},
        {"name": "demo-user", "domain": {"id": DOMAIN_ID}, "password": "demo-password"},
    ],
    ids=["user-id", "domain-name", "domain-id"],
)
@pytest.mark.parametrize(
    "scope",
    [
        {"project": {"id": PROJECT_1}},
        {"project": {"name": "demo-project-1", "domain": {"name": "demo"}}},
        {"project": {"name": "demo-project-1", "domain": {"id": DOMAIN_ID}}},
    ],
    ids=["project-id", "project-name", "project-name-domain-id"],
)
def test_it_issues_a_project_token_for_every_way_of_naming_user_and_project(k5sim, user, scope):
    response = authenticate(k5sim, password_auth(user, scope))

    assert response.status_code == 201
    assert response.headers["X-Subject-Token"]
    token = response.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"] == {
        "id": DEMO_USER_ID,
        "name": "demo-user",
        "domain": {"id": DOMAIN_ID, "name": "demo"},
        "password_expires_at": None,
    }
    assert token["project"] == {
        "id": PROJECT_1,
        "name": "demo-project-1",
        "domain": {"id": DOMAIN_ID, "name": "demo"},
    }
    assert token["roles"] and all({"id", "name"} <= set(r) for r in token["roles"])


def test_the_catalog_names_each_service_with_project_endpoints(k5sim):
    catalog = login(k5sim).body["token"]["catalog"]

    by_name = {entry["name"]: entry for entry in catalog}
    assert {name: entry["type"] for name, entry in by_name.items()} == {
        "identityv3": "identity",
        "blockstoragev2": "volumev2",
        "blockstoragev3": "volumev3",
        "image": "image",
        "compute": "compute",
    }
    base = k5sim.base_url
    urls = {name: entry["endpoints"][0]["url"] for name, entry in by_name.items()}
    assert urls == {
        "identityv3": f"{base}/identity/v3",
        "blockstoragev2": f"{base}/blockstorage/v2/{PROJECT_1}",
        "blockstoragev3": f"{base}/blockstorage/v3/{PROJECT_1}",
        "image": f"{base}/image",
        "compute": f"{base}/compute/v2/{PROJECT_1}",
    }
    endpoint = by_name["compute"]["endpoints"][0]
    assert endpoint["interface"] == "public"
    assert endpoint["region"] == endpoint["region_id"] == "jp-east-1"
    assert endpoint["id"] and by_name["compute"]["id"]


def test_it_substitutes_the_scoped_project_in_the_catalog(k5sim):
    catalog = login(k5sim, "demo-project-2").body["token"]["catalog"]

    volume_v2 = next(e for e in catalog if e["name"] == "blockstoragev2")
    assert volume_v2["endpoints"][0]["url"].endswith(f"/blockstorage/v2/{PROJECT_2}")


def test_the_token_lives_three_hours(k5sim):
    token = login(k5sim).body["token"]

    issued = parse_keystone(token["issued_at"])
    expires = parse_keystone(token["expires_at"])
    assert expires - issued == timedelta(hours=3)
    assert abs(issued - datetime.now(UTC)) < timedelta(seconds=5)


def test_speed_shortens_the_token_life(k5sim):
    k5sim.reset(speed=60)

    token = login(k5sim).body["token"]

    life = parse_keystone(token["expires_at"]) - parse_keystone(token["issued_at"])
    assert life == timedelta(minutes=3)


def test_an_expired_token_is_refused_with_401(k5sim):
    api = login(k5sim)
    assert api.get(api.volumes_url()).status_code == 200

    k5sim.advance(3 * 3600 + 1)

    response = api.get(api.volumes_url())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401


def test_a_token_still_works_just_before_it_expires(k5sim):
    api = login(k5sim)

    k5sim.advance(3 * 3600 - 30)

    assert api.get(api.volumes_url()).status_code == 200


def test_unscoped_authentication_gives_a_token_without_catalog(k5sim):
    response = authenticate(k5sim, password_auth(demo_user()))

    assert response.status_code == 201
    token = response.json()["token"]
    assert "catalog" not in token and "project" not in token


def test_a_wrong_password_is_401_in_keystone_shape(k5sim):
    response = authenticate(k5sim, password_auth(demo_user("wrong"), project_scope()))

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }
    assert "X-Subject-Token" not in response.headers


@pytest.mark.parametrize(
    "body",
    [
        password_auth({"name": "nobody", "domain": {"name": "demo"}, "password": "x"}),
        password_auth(
            {"name": "demo-user", "domain": {"name": "other-contract"}, "password": "demo-password"}
        ),
        password_auth(demo_user(), {"project": {"id": "f" * 32}}),
        password_auth(
            {"id": LOCK_USER_ID, "password": "lock-password"}, {"project": {"id": PROJECT_2}}
        ),  # lock-user is not a member of project 2
    ],
    ids=["unknown-user", "unknown-domain", "unknown-project", "not-a-member"],
)
def test_it_refuses_unknown_names_and_foreign_projects_with_401(k5sim, body):
    assert authenticate(k5sim, body).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"auth": "password"},
        {"auth": {"identity": {"methods": "password"}}},
        {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "x"}}}}},
        [],
    ],
    ids=["auth-not-object", "methods-not-list", "no-password", "not-object"],
)
def test_malformed_auth_bodies_are_400_not_tracebacks(k5sim, body):
    response = authenticate(k5sim, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400
    assert "Traceback" not in response.text


def test_five_wrong_passwords_lock_the_user_even_for_the_right_password(k5sim):
    for _ in range(5):
        assert authenticate(k5sim, password_auth(lock_user("wrong"))).status_code == 401

    locked = authenticate(k5sim, password_auth(lock_user()))

    assert locked.status_code == 401
    assert "locked" in locked.json()["error"]["message"]
    state_user = next(u for u in k5sim.state()["users"] if u["id"] == LOCK_USER_ID)
    assert state_user["locked_until"] is not None
    # Another user of the same contract is not affected.
    assert authenticate(k5sim, password_auth(demo_user())).status_code == 201


def test_the_lock_ends_after_fifteen_minutes(k5sim):
    for _ in range(5):
        authenticate(k5sim, password_auth(lock_user("wrong")))
    k5sim.advance(14 * 60)
    assert authenticate(k5sim, password_auth(lock_user())).status_code == 401

    k5sim.advance(60 + 1)

    assert authenticate(k5sim, password_auth(lock_user())).status_code == 201


def test_failures_older_than_fifteen_minutes_do_not_count(k5sim):
    for _ in range(4):
        authenticate(k5sim, password_auth(lock_user("wrong")))
    k5sim.advance(15 * 60 + 1)

    assert authenticate(k5sim, password_auth(lock_user("wrong"))).status_code == 401

    assert authenticate(k5sim, password_auth(lock_user())).status_code == 201


def test_a_successful_login_clears_earlier_failures(k5sim):
    for _ in range(4):
        authenticate(k5sim, password_auth(lock_user("wrong")))
    assert authenticate(k5sim, password_auth(lock_user())).status_code == 201

    for _ in range(4):
        authenticate(k5sim, password_auth(lock_user("wrong")))

    assert authenticate(k5sim, password_auth(lock_user())).status_code == 201


def test_lockout_times_scale_with_speed(k5sim):
    k5sim.reset(speed=60)
    for _ in range(5):
        authenticate(k5sim, password_auth(lock_user("wrong")))
    assert authenticate(k5sim, password_auth(lock_user())).status_code == 401

    k5sim.advance(15 * 60 + 1)  # K5 seconds: 15 real seconds at speed 60

    assert authenticate(k5sim, password_auth(lock_user())).status_code == 201


def test_a_token_can_be_validated_and_revoked(k5sim):
    api = login(k5sim)
    tokens_url = f"{k5sim.auth_url}/auth/tokens"
    headers = {"X-Auth-Token": api.token, "X-Subject-Token": api.token}

    validated = requests.get(tokens_url, headers=headers, timeout=10)
    assert validated.status_code == 200
    assert validated.json()["token"]["project"]["id"] == PROJECT_1
    assert validated.headers["X-Subject-Token"] == api.token

    other = login(k5sim)
    revoked = requests.delete(
        tokens_url, headers={"X-Auth-Token": other.token, "X-Subject-Token": api.token}, timeout=10
    )
    assert revoked.status_code == 204
    assert api.get(api.volumes_url()).status_code == 401
    assert (
        requests.get(
            tokens_url,
            headers={"X-Auth-Token": other.token, "X-Subject-Token": api.token},
            timeout=10,
        ).status_code
        == 404
    )


def test_a_token_can_rescope_with_the_token_method(k5sim):
    unscoped = authenticate(k5sim, password_auth(demo_user())).headers["X-Subject-Token"]

    response = authenticate(
        k5sim,
        {
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": unscoped}},
                "scope": {"project": {"id": PROJECT_2}},
            }
        },
    )

    assert response.status_code == 201
    assert response.json()["token"]["project"]["id"] == PROJECT_2


def test_version_documents_let_clients_discover_identity_v3(k5sim):
    root = requests.get(f"{k5sim.base_url}/identity/", timeout=10)
    v3 = requests.get(k5sim.auth_url, timeout=10)

    assert root.status_code == 300
    assert root.json()["versions"]["values"][0]["id"].startswith("v3")
    assert v3.status_code == 200
    version = v3.json()["version"]
    assert version["status"] == "stable"
    assert version["links"][0] == {"rel": "self", "href": f"{k5sim.auth_url}/"}
