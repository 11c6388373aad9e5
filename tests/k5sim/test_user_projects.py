"""A person's K5 sign-in as Horizon and Skyline do it: an unscoped token, the projects the user
has roles in, a token scoped to each carrying the user's roles there; role assignments changed
through the control interface; the request log naming whose password was sent."""

from __future__ import annotations

import pytest
import requests

from k5sim import scenario
from tests.k5sim.client import authenticate, password_auth
from tests.support.demo import (
    DOMAIN_ID,
    LOCK_USER_ID,
    PROJECT_1,
    PROJECT_2,
    VIEW_PASSWORD,
    VIEW_USER_ID,
    demo_scenario,
)

TOKENS = "POST /identity/v3/auth/tokens"


def view_user(password: str = VIEW_PASSWORD) -> dict:
    return {"name": "view-user", "domain": {"name": "demo"}, "password": password}


def unscoped(k5sim, user: dict | None = None) -> requests.Response:
    response = authenticate(k5sim, password_auth(user or view_user()))
    assert response.status_code == 201, response.text
    return response


def rescope(k5sim, token: str, project_id: str) -> requests.Response:
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": token}},
            "scope": {"project": {"id": project_id}},
        }
    }
    return requests.post(f"{k5sim.auth_url}/auth/tokens?nocatalog", json=body, timeout=30)


def get(k5sim, path: str, token: str) -> requests.Response:
    return requests.get(f"{k5sim.auth_url}{path}", headers={"X-Auth-Token": token}, timeout=30)


def test_it_issues_an_unscoped_token_with_no_roles_and_no_catalog(k5sim):
    token = unscoped(k5sim).json()["token"]

    assert token["user"]["id"] == VIEW_USER_ID
    assert token["user"]["domain"] == {"id": DOMAIN_ID, "name": "demo"}
    assert "roles" not in token and "catalog" not in token and "project" not in token


def test_a_token_scoped_from_the_unscoped_one_carries_the_users_roles_in_that_project(k5sim):
    token = unscoped(k5sim).headers["X-Subject-Token"]

    scoped = rescope(k5sim, token, PROJECT_1)

    assert scoped.status_code == 201
    body = scoped.json()["token"]
    assert body["project"]["id"] == PROJECT_1
    assert [role["name"] for role in body["roles"]] == ["reader"]
    assert "catalog" not in body, "?nocatalog leaves the catalog out"
    refused = rescope(k5sim, token, PROJECT_2)
    assert refused.status_code == 401, "view-user has no role in demo-project-2"


def test_auth_projects_lists_only_the_projects_the_user_has_a_role_in(k5sim):
    token = unscoped(k5sim).headers["X-Subject-Token"]

    listed = get(k5sim, "/auth/projects", token)

    assert listed.status_code == 200
    assert [(p["id"], p["name"]) for p in listed.json()["projects"]] == [
        (PROJECT_1, "demo-project-1")
    ]


def test_a_user_lists_their_own_projects_by_user_id_but_not_anyone_elses(k5sim):
    token = unscoped(k5sim).headers["X-Subject-Token"]

    own = get(k5sim, f"/users/{VIEW_USER_ID}/projects", token)
    other = get(k5sim, f"/users/{LOCK_USER_ID}/projects", token)

    assert own.status_code == 200
    assert [p["id"] for p in own.json()["projects"]] == [PROJECT_1]
    assert other.status_code == 403
    assert "identity:list_user_projects" in other.json()["error"]["message"]


def test_the_request_log_tells_a_password_from_a_token_and_whose_it_was(k5sim):
    k5sim.clear_requests()
    token = unscoped(k5sim).headers["X-Subject-Token"]
    rescope(k5sim, token, PROJECT_1)
    authenticate(k5sim, password_auth(view_user("wrong")))

    sent = [
        (e["auth_method"], e["user_id"], e["status"])
        for e in k5sim.requests_log()
        if f"{e['method']} {e['template']}" == TOKENS
    ]
    assert sent == [
        ("password", VIEW_USER_ID, 201),
        ("token", VIEW_USER_ID, 201),
        ("password", VIEW_USER_ID, 401),
    ]


def test_a_role_granted_through_the_control_interface_opens_the_project(k5sim):
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")
    k5sim.control("PUT", f"users/{VIEW_USER_ID}/projects/{PROJECT_1}/roles/admin")

    token = unscoped(k5sim).headers["X-Subject-Token"]

    assert [p["id"] for p in get(k5sim, "/auth/projects", token).json()["projects"]] == [
        PROJECT_1,
        PROJECT_2,
    ]
    roles = rescope(k5sim, token, PROJECT_1).json()["token"]["roles"]
    assert [role["name"] for role in roles] == ["reader", "admin"]
    user = next(u for u in k5sim.state()["users"] if u["id"] == VIEW_USER_ID)
    assert user["project_roles"] == {PROJECT_1: ["reader", "admin"], PROJECT_2: ["_member_"]}


def test_revoking_the_last_role_closes_the_project_and_its_scoped_tokens(k5sim):
    token = unscoped(k5sim).headers["X-Subject-Token"]
    scoped = rescope(k5sim, token, PROJECT_1).headers["X-Subject-Token"]

    answer = k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")

    assert answer.json() == {"user_id": VIEW_USER_ID, "project_id": PROJECT_1, "roles": []}
    assert get(k5sim, "/auth/projects", token).json()["projects"] == []
    assert rescope(k5sim, token, PROJECT_1).status_code == 401
    volumes = requests.get(
        f"{k5sim.base_url}/blockstorage/v2/{PROJECT_1}/volumes",
        headers={"X-Auth-Token": scoped},
        timeout=30,
    )
    assert volumes.status_code == 401, "Keystone revokes the project's tokens with the role"


def test_revoking_a_role_the_user_does_not_hold_is_404(k5sim):
    with pytest.raises(requests.HTTPError) as refused:
        k5sim.control("DELETE", "users/view-user/projects/demo-project-2/roles/reader")
    assert refused.value.response.status_code == 404


def test_a_scenario_gives_a_user_different_roles_in_different_projects():
    data = demo_scenario()
    data["users"].append(
        {
            "name": "ops-user",
            "domain": "demo",
            "password": "ops-password",
            "roles": ["member"],
            "projects": ["demo-project-1", {"project": "demo-project-2", "roles": ["admin"]}],
        }
    )

    parsed = scenario.parse(data)

    ops = parsed["users"][-1]
    assert ops["project_roles"] == {PROJECT_1: ["member"], PROJECT_2: ["admin"]}


@pytest.mark.parametrize(
    ("projects", "message"),
    [
        ([{"project": "demo-project-1", "roles": []}], "projects[0].roles: must be a non-empty"),
        (["demo-project-1", "demo-project-1"], "projects[1]: the project is listed twice"),
        ([{"project": "demo-project-1", "role": "x"}], "projects[0]: unknown key 'role'"),
    ],
)
def test_a_scenario_with_bad_role_assignments_is_refused_naming_the_place(projects, message):
    data = demo_scenario()
    data["users"][0]["projects"] = projects

    with pytest.raises(scenario.ScenarioError) as refused:
        scenario.parse(data)

    assert message in str(refused.value)


def with_default_project(**settings) -> dict:
    """The demo, where view-user also holds _member_ in demo-project-2, their default project."""
    chosen = demo_scenario()
    view = next(u for u in chosen["users"] if u["name"] == "view-user")
    view["projects"].append({"project": "demo-project-2", "roles": ["_member_"]})
    view["default_project"] = "demo-project-2"
    chosen["settings"].update(settings)
    return chosen


def test_a_request_without_scope_is_scoped_to_the_default_project_as_keystone_does(k5sim):
    k5sim.reset(scenario=with_default_project())

    defaulted = unscoped_or_not(k5sim, None)
    explicit = unscoped_or_not(k5sim, "unscoped")

    assert defaulted["project"]["id"] == PROJECT_2 and defaulted["roles"]
    assert "project" not in explicit and "roles" not in explicit


def test_a_default_project_without_a_role_there_gives_an_unscoped_token(k5sim):
    chosen = demo_scenario()
    view = next(u for u in chosen["users"] if u["name"] == "view-user")
    view["default_project"] = "demo-project-2"
    k5sim.reset(scenario=chosen)

    assert "project" not in unscoped_or_not(k5sim, None)


def test_rescoping_a_scoped_token_can_be_refused_as_keystone_may_be_configured(k5sim):
    k5sim.reset(scenario=with_default_project(rescope_scoped_tokens=0))
    scoped = authenticate(k5sim, password_auth(view_user())).headers["X-Subject-Token"]
    free = authenticate(k5sim, password_auth(view_user(), "unscoped")).headers["X-Subject-Token"]

    refused = rescope(k5sim, scoped, PROJECT_1)

    assert refused.status_code == 403 and "rescope a scoped token" in refused.text
    assert rescope(k5sim, free, PROJECT_1).status_code == 201


def test_a_default_project_must_be_one_of_the_scenarios(k5sim):
    chosen = demo_scenario()
    chosen["users"][2]["default_project"] = "nowhere"

    with pytest.raises(scenario.ScenarioError, match=r"users\[2\]\.default_project"):
        scenario.parse(chosen)


def unscoped_or_not(k5sim, scope) -> dict:
    response = authenticate(k5sim, password_auth(view_user(), scope))
    assert response.status_code == 201, response.text
    return response.json()["token"]
