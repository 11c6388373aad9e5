"""The catalog's names (service-level and endpoint-level), and a password changed in K5."""

from __future__ import annotations

import pytest

from tests.k5sim.client import authenticate, demo_user, login, password_auth, project_scope
from tests.support.demo import DEMO_USER_ID, demo_scenario

K5_NAMES = {"identityv3", "blockstoragev2", "blockstoragev3", "image", "compute"}


def catalog(api) -> list[dict]:
    return api.body["token"]["catalog"]


def test_every_endpoint_carries_k5s_name(k5sim):
    entries = catalog(login(k5sim))

    assert {e["endpoints"][0]["name"] for e in entries} == K5_NAMES
    assert {e["name"] for e in entries} == K5_NAMES
    assert {e["type"] for e in entries} >= {"volumev2", "volumev3", "image", "compute"}


def test_the_k5_endpoint_names_style_keeps_k5s_names_on_the_endpoints_only(k5sim):
    k5sim.reset(scenario={**demo_scenario(), "catalog": "k5-endpoint-names"})

    entries = catalog(login(k5sim))

    assert {e["endpoints"][0]["name"] for e in entries} == K5_NAMES
    assert not {e["name"] for e in entries} & K5_NAMES
    assert not {e["type"] for e in entries} & {"volumev2", "volumev3", "image", "compute"}
    assert k5sim.state()["catalog"] == "k5-endpoint-names"


def test_an_unknown_catalog_style_is_refused(k5sim):
    response = k5sim.http.post(
        f"{k5sim.base_url}/_sim/reset",
        json={"scenario": {**demo_scenario(), "catalog": "fancy"}},
        timeout=10,
    )
    assert response.status_code == 400
    assert "catalog" in response.json()["error"]["message"]


@pytest.mark.parametrize("ref", ["demo-user", DEMO_USER_ID])
def test_a_password_changed_in_k5_revokes_the_users_tokens(k5sim, ref):
    api = login(k5sim)
    assert api.get(api.volumes_url()).status_code == 200

    answer = k5sim.control("PATCH", f"users/{ref}", json={"password": "new-password"}).json()

    assert answer["revoked_tokens"] >= 1
    assert api.get(api.volumes_url()).status_code == 401
    old = authenticate(k5sim, password_auth(demo_user(), project_scope()))
    assert old.status_code == 401
    user = next(u for u in k5sim.state()["users"] if u["id"] == DEMO_USER_ID)
    assert user["recent_failed_logins"] == 1
    new = authenticate(k5sim, password_auth(demo_user("new-password"), project_scope()))
    assert new.status_code == 201


def test_revoking_every_token(k5sim):
    api = login(k5sim)

    assert k5sim.control("DELETE", "tokens").json()["revoked_tokens"] >= 1
    assert api.get(api.volumes_url()).status_code == 401


@pytest.mark.parametrize(
    ("ref", "body", "status"),
    [
        ("nobody", {"password": "x"}, 404),
        ("demo-user", {"password": ""}, 400),
        ("demo-user", {"name": "other"}, 400),
    ],
)
def test_bad_user_changes_are_refused(k5sim, ref, body, status):
    response = k5sim.http.patch(f"{k5sim.base_url}/_sim/users/{ref}", json=body, timeout=10)
    assert response.status_code == status
