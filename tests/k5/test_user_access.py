"""A person's own K5 sign-in (imaging.k5.signin) against the live simulator: one password sent,
the projects listed, roles read from a token scoped to each asked-about project, every token
revoked; K5's refusals as the facade's errors."""

from __future__ import annotations

import socket

import pytest

from imaging.k5 import K5CredentialError, K5OutcomeUnknown, K5Unavailable
from imaging.k5.signin import K5UserLocked, user_access
from tests.support.demo import PROJECT_1, PROJECT_2, VIEW_PASSWORD, VIEW_USER_ID, demo_scenario

TOKENS = "/identity/v3/auth/tokens"


def sign_in(k5sim, username="view-user", password=VIEW_PASSWORD, **options):
    return user_access(
        k5sim.auth_url,
        contract="demo",
        username=username,
        password=password,
        connect_timeout=2.0,
        read_timeout=5.0,
        **options,
    )


def token_calls(k5sim) -> list[tuple[str, str | None, int | None]]:
    return [
        (e["method"], e["auth_method"], e["status"])
        for e in k5sim.requests_log()
        if e["template"] == TOKENS
    ]


def test_it_learns_the_users_roles_in_the_projects_asked_about(k5sim):
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")
    k5sim.control("PUT", "users/view-user/projects/demo-project-1/roles/auditor")

    access = sign_in(k5sim, project_ids={PROJECT_1, "not-a-k5-project"})

    assert (access.user_id, access.user_name) == (VIEW_USER_ID, "view-user")
    assert access.domain_name == "demo"
    assert access.projects == {PROJECT_1: "demo-project-1", PROJECT_2: "demo-project-2"}
    assert access.roles_by_project == {PROJECT_1: ("reader", "auditor")}, (
        "demo-project-2 was not asked about"
    )


def test_a_user_with_a_default_project_still_gets_their_roles_in_every_project(k5sim):
    # A Keystone that scopes a request without `scope` to the default project, and refuses to
    # rescope a scoped token: only an explicitly unscoped first token works there.
    chosen = demo_scenario()
    view = next(u for u in chosen["users"] if u["name"] == "view-user")
    view["projects"].append({"project": "demo-project-2", "roles": ["_member_"]})
    view["default_project"] = "demo-project-2"
    chosen["settings"]["rescope_scoped_tokens"] = 0
    k5sim.reset(scenario=chosen)

    access = sign_in(k5sim)

    assert access.projects == {PROJECT_1: "demo-project-1", PROJECT_2: "demo-project-2"}
    assert access.roles_by_project == {PROJECT_1: ("reader",), PROJECT_2: ("_member_",)}


def test_it_sends_the_password_once_and_revokes_every_token_it_got(k5sim):
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")
    k5sim.clear_requests()

    access = sign_in(k5sim)

    assert set(access.roles_by_project) == {PROJECT_1, PROJECT_2}
    calls = token_calls(k5sim)
    assert calls[:3] == [("POST", "password", 201), ("POST", "token", 201), ("POST", "token", 201)]
    assert calls[3:] == [("DELETE", None, 204)] * 3
    assert k5sim.state()["tokens"] == 0, "no token of the person's outlives the sign-in"


def test_a_wrong_password_is_refused_once_and_never_sent_again(k5sim):
    k5sim.clear_requests()

    with pytest.raises(K5CredentialError) as refused:
        sign_in(k5sim, password="wrong")

    assert not isinstance(refused.value, K5UserLocked)
    assert refused.value.status == 401 and refused.value.permanent
    assert "wrong" not in repr(refused.value) and "wrong" not in str(refused.value)
    assert token_calls(k5sim) == [("POST", "password", 401)]


def test_a_locked_user_gets_k5s_answer_as_a_locked_error(k5sim):
    for _ in range(5):
        with pytest.raises(K5CredentialError):
            sign_in(k5sim, username="lock-user", password="wrong")

    with pytest.raises(K5UserLocked) as locked:
        sign_in(k5sim, username="lock-user", password="lock-password")

    assert "The account is locked" in locked.value.message


def test_it_asks_for_the_users_own_projects_where_auth_projects_is_not_offered(k5sim):
    k5sim.add_fault(kind="http", method="GET", path="/auth/projects$", status=404)
    k5sim.clear_requests()

    access = sign_in(k5sim)

    assert access.roles_by_project == {PROJECT_1: ("reader",)}
    # Identity's calls only: the shared simulator logs a call when it answers, so a slow one
    # an earlier test gave up on can land in this test's log.
    asked = [
        e["template"]
        for e in k5sim.requests_log()
        if e["method"] == "GET" and e["template"].startswith("/identity/")
    ]
    assert asked == ["/identity/v3/auth/projects", "/identity/v3/users/{user_id}/projects"]


def test_a_user_with_no_project_signs_in_with_nothing(k5sim):
    k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")

    access = sign_in(k5sim)

    assert access.projects == {} and access.roles_by_project == {}


def test_no_answer_after_the_password_was_sent_is_an_unknown_outcome(k5sim):
    k5sim.add_fault(kind="http", method="POST", path="/auth/tokens", reset=True)

    with pytest.raises(K5OutcomeUnknown) as unknown:
        sign_in(k5sim)

    assert "may have counted a failed sign-in" in unknown.value.message


def test_an_identity_nobody_answers_at_is_unavailable_with_nothing_sent():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(K5Unavailable) as unavailable:
        user_access(
            f"http://127.0.0.1:{port}/identity/v3",
            contract="demo",
            username="view-user",
            password=VIEW_PASSWORD,
            connect_timeout=1.0,
        )
    assert not isinstance(unavailable.value, K5OutcomeUnknown)
    assert "nothing was sent" in unavailable.value.message
