"""Signing in with a K5 account (K5_LOGIN): contract, user name and password as for K5; the
person's memberships come from their K5 roles through K5_ROLE_MAP, are replaced at each
sign-in (and audited), lapse after K5_LOGIN_MAX_AGE, and never touch operator grants.

The simulator's demo has view-user (role `reader` in demo-project-1); tests give it more roles
through the simulator's control interface, as a K5 administrator would.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation

from imaging.access import role_in, visible_projects
from imaging.models import (
    EventKind,
    ExternalAccount,
    ImageJob,
    JobEvent,
    K5Project,
    Membership,
    MembershipSource,
    Role,
)
from tests.support.demo import CENTOS_WEB, DEMO_USER_ID, VIEW_PASSWORD, VIEW_USER_ID
from tests.web.page import Page

ROLE_MAP = {"admin": "admin", "_member_": "member", "member": "member", "reader": "viewer"}


@pytest.fixture
def k5_login(settings):
    settings.K5_LOGIN = True
    settings.K5_ROLE_MAP = dict(ROLE_MAP)
    settings.K5_LOGIN_MAX_AGE = timedelta(hours=12)


def k5_sign_in(client: Client, username="view-user", password=VIEW_PASSWORD, **fields):
    data = {"k5-contract": "demo", "k5-username": username, "k5-password": password}
    data.update({f"k5-{key}": value for key, value in fields.items()})
    return client.post("/accounts/login/k5/", data)


def refusal(response) -> str:
    assert response.status_code == 200, response.status_code
    return Page(response).main.one("section", id_="k5-sign-in").one("div", role="alert").text


def memberships(username: str) -> dict[str, tuple[str, str]]:
    return {
        m.project.name: (m.role, m.source)
        for m in Membership.objects.filter(user__username=username).select_related("project")
    }


def access_events(project: K5Project) -> list[str]:
    return list(
        JobEvent.objects.filter(project=project, kind=EventKind.ACCESS).values_list(
            "message", flat=True
        )
    )


def test_the_sign_in_page_offers_the_k5_account_beside_the_local_one(k5_login, project):
    sign_in_page = Page(Client().get("/accounts/login/", {"next": "/jobs/"}))

    k5 = sign_in_page.main.one("section", id_="k5-sign-in")
    assert k5.one("h2").text == "Sign in with your K5 account"
    form = k5.one("form")
    assert form.attrs["action"] == "/accounts/login/k5/"
    labels = [label.text for label in form.all("label")]
    assert labels == ["Contract", "K5 user name", "K5 password"], "one region: none to choose"
    assert form.one("input", name="next").attrs["value"] == "/jobs/"
    assert form.one("input", name="k5-password").attrs["type"] == "password"
    assert sign_in_page.main.one("input", name="username"), "the local form is still there"


def test_the_region_is_asked_when_the_portals_projects_are_in_several(k5_login, project, k5sim):
    K5Project.objects.create(
        name="uk-project",
        region="uk-1",
        identity_url=k5sim.auth_url,
        contract="demo",
        k5_project_id="bbbb0000000000000000000000000001",
        username="demo-user",
        password_encrypted="x",
    )

    form = Page(Client().get("/accounts/login/")).main.one("section", id_="k5-sign-in")

    select = form.one("select", name="k5-region")
    assert [o.attrs["value"] for o in select.all("option")] == ["jp-east-1", "uk-1"]
    assert form.one("label", for_="id_k5-region").text == "Region"


def test_without_k5_login_there_is_no_k5_sign_in(project, settings):
    settings.K5_LOGIN = False

    main = Page(Client().get("/accounts/login/")).main

    assert not main.has("section", id_="k5-sign-in")
    assert Client().post("/accounts/login/k5/", {}).status_code == 404


def test_a_k5_user_gets_exactly_the_registered_projects_with_mapped_roles(
    k5_login, k5sim, project, other_project
):
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/auditor")
    client = Client()

    response = k5_sign_in(client, next="/jobs/")

    assert response.status_code == 302 and response["Location"] == "/"
    assert memberships("demo/view-user") == {
        "demo-project-1": (Role.VIEWER, MembershipSource.K5),
        "demo-project-2": (Role.MEMBER, MembershipSource.K5),
    }
    dashboard = Page(client.get("/"))
    rows = dashboard.table_rows(dashboard.main.one("table"))
    assert [(r["Project"], r["Your role"]) for r in rows] == [
        ("demo-project-1", "viewer"),
        ("demo-project-2", "member"),
    ]
    assert "demo/view-user" in dashboard.one("header").text
    user = User.objects.get(username="demo/view-user")
    assert not user.has_usable_password(), "a K5 account cannot sign in with a local password"
    account = ExternalAccount.objects.get(user=user)
    assert (account.source, account.key) == ("k5", "demo/view-user")
    assert account.external_id == VIEW_USER_ID
    assert access_events(project) == [
        "demo/view-user joined the project as viewer through a K5 sign-in (K5 roles: reader)."
    ]
    assert not dashboard.one("header").has("a", href="/accounts/password/")


def test_the_k5_form_goes_where_the_member_was_going(k5_login, project):
    response = Client().post(
        "/accounts/login/k5/",
        {
            "k5-contract": "demo",
            "k5-username": "view-user",
            "k5-password": VIEW_PASSWORD,
            "next": "/jobs/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/jobs/"


def test_the_k5_form_needs_the_pages_csrf_token(k5_login, project):
    client = Client(enforce_csrf_checks=True)
    form = Page(client.get("/accounts/login/")).main.one("section", id_="k5-sign-in").one("form")
    token = form.one("input", name="csrfmiddlewaretoken").attrs["value"]
    data = {"k5-contract": "demo", "k5-username": "view-user", "k5-password": VIEW_PASSWORD}

    assert client.post("/accounts/login/k5/", data).status_code == 403
    assert (
        client.post("/accounts/login/k5/", {**data, "csrfmiddlewaretoken": token}).status_code
        == 302
    )


def test_the_next_sign_in_adds_changes_and_removes_memberships_with_an_audit(
    k5_login, k5sim, project, other_project
):
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")
    k5_sign_in(Client())
    k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/admin")

    response = k5_sign_in(Client())

    assert response.status_code == 302
    assert memberships("demo/view-user") == {"demo-project-2": ("admin", "k5")}
    assert access_events(project)[-1] == (
        "demo/view-user no longer belongs to the project: at a K5 sign-in, nothing gave a "
        "portal role (K5 roles: none)."
    )
    assert access_events(other_project) == [
        "demo/view-user joined the project as member through a K5 sign-in (K5 roles: _member_).",
        "demo/view-user's role changed from member to admin at a K5 sign-in "
        "(K5 roles: _member_, admin).",
    ]
    removal = JobEvent.objects.filter(project=project, kind=EventKind.ACCESS).last()
    assert removal.actor.username == "demo/view-user" and removal.job is None
    assert removal.detail == {
        "account": "demo/view-user",
        "source": "k5",
        "before": "viewer",
        "after": None,
        "because": [],
        "sign_in": {
            "region": "jp-east-1",
            "identity_url": k5sim.auth_url,
            "added": 0,
            "changed": 1,
            "removed": 1,
            "kept": 0,
        },
    }


def test_the_access_events_read_in_the_readers_language(k5_login, k5sim, project, other_project):
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")
    k5_sign_in(Client())
    k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/admin")
    k5_sign_in(Client())

    events = JobEvent.objects.filter(kind=EventKind.ACCESS).order_by("code", "id")
    assert [e.code for e in events] == [
        "access.joined_k5",
        "access.joined_k5",
        "access.left_k5",
        "access.role_changed_k5",
    ]
    with translation.override("ja"):
        japanese = [e.text for e in events]
    with translation.override("en"):
        english = [e.text for e in events]
    assert japanese[2:] == [
        "demo/view-user はプロジェクトのメンバーではなくなりました: K5 へのサインインで、"
        "ポータルのロールを与えるものがありませんでした（K5 のロール: なし）。",
        "K5 へのサインインで demo/view-user のロールがメンバーから管理者に変わりました"
        "（K5 のロール: _member_, admin）。",
    ]
    assert english[2:] == [
        "demo/view-user no longer belongs to the project: at a K5 sign-in, nothing gave a "
        "portal role (K5 roles: none).",
        "demo/view-user's role changed from member to admin at a K5 sign-in "
        "(K5 roles: _member_, admin).",
    ]


def test_an_unchanged_role_is_renewed_without_an_audit_event(k5_login, project):
    k5_sign_in(Client())
    first = Membership.objects.get(user__username="demo/view-user").synced_at

    k5_sign_in(Client())

    assert Membership.objects.get(user__username="demo/view-user").synced_at > first
    assert len(access_events(project)) == 1


def test_unmapped_roles_give_no_access_and_the_page_says_so(k5_login, project, settings):
    settings.K5_ROLE_MAP = {"admin": "admin"}
    client = Client()

    response = k5_sign_in(client)

    message = refusal(response)
    assert "none of your K5 roles gives you a role in any project of this portal" in message
    assert "(demo-project-1: reader)" in message
    assert client.get("/").status_code == 302, "not signed in"
    assert memberships("demo/view-user") == {}


def test_a_k5_user_without_any_project_is_told_so(k5_login, k5sim, project):
    k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")

    message = refusal(k5_sign_in(Client()))

    assert "You have no K5 role in any of the portal's projects" in message


def test_a_member_who_lost_every_role_loses_access_at_the_next_sign_in(k5_login, k5sim, project):
    k5_sign_in(Client())
    k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")

    refusal(k5_sign_in(Client()))

    assert memberships("demo/view-user") == {}
    assert "no longer belongs to the project" in access_events(project)[-1]


def test_a_wrong_k5_password_is_refused_with_k5s_verdict(k5_login, project):
    message = refusal(k5_sign_in(Client(), password="wrong"))

    assert message.startswith("K5 did not accept this contract, user name and password.")
    assert "ask K5 2 more times for this user in the next 15 minutes" in message


def test_operator_grants_stay_as_they_are(k5_login, k5sim, project, other_project, bob):
    k5_sign_in(Client())
    call_command("k5project", "grant", "demo-project-2", "demo/view-user", "--role", "admin")
    k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")
    k5sim.control("PUT", "users/view-user/projects/demo-project-1/roles/_member_")
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/reader")

    k5_sign_in(Client())

    assert memberships("demo/view-user") == {
        "demo-project-1": ("member", "k5"),
        "demo-project-2": ("admin", "operator"),
    }
    assert memberships("bob") == {"demo-project-1": ("member", "operator")}
    assert (
        Client()
        .post("/accounts/login/", {"username": "bob", "password": "bob-password-1"})
        .status_code
        == 302
    ), "local accounts sign in as before"


def test_a_k5_membership_older_than_the_max_age_grants_nothing(k5_login, project, settings):
    client = Client()
    k5_sign_in(client)
    user = User.objects.get(username="demo/view-user")
    assert role_in(user, project) == Role.VIEWER

    Membership.objects.filter(user=user).update(
        synced_at=Membership.objects.get(user=user).synced_at - timedelta(hours=12, seconds=1)
    )

    assert role_in(user, project) is None
    assert list(visible_projects(user)) == []
    assert client.get(f"/projects/{project.pk}/volumes/").status_code == 404
    settings.K5_LOGIN_MAX_AGE = timedelta(hours=13)
    assert role_in(user, project) == Role.VIEWER, "the max age is a setting"


def test_the_session_of_a_k5_sign_in_ends_with_the_max_age(k5_login, project):
    client = Client()
    k5_sign_in(client)
    assert client.session.get_expiry_age() == 12 * 3600


def test_the_k5_password_and_tokens_are_never_stored_or_logged(k5_login, k5sim, project, caplog):
    caplog.set_level(logging.DEBUG)
    client = Client()

    k5_sign_in(client)
    k5_sign_in(Client(), password="wrong-secret")

    logged = caplog.text
    assert "view-password" not in logged and "wrong-secret" not in logged
    assert not re.search(r"[0-9a-f]{32}", logged.replace(VIEW_USER_ID, ""))
    assert "account=demo/view-user" in logged
    stored = "".join(str(row) for row in client.session.items())
    assert "view-password" not in stored
    assert k5sim.state()["tokens"] == 0, "every token of the person was revoked"
    user = User.objects.get(username="demo/view-user")
    assert "view-password" not in user.password


def test_the_k5_sign_in_speaks_japanese(k5_login, project, settings):
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"

    section = Page(client.get("/accounts/login/")).main.one("section", id_="k5-sign-in")
    refused = refusal(k5_sign_in(client, password="wrong"))

    assert section.one("h2").text == "K5 アカウントでログイン"
    assert [label.text for label in section.all("label")] == [
        "契約番号",
        "K5 ユーザー名",
        "K5 パスワード",
    ]
    assert refused.startswith("K5 はこの契約番号、ユーザー名、パスワードを受け付けませんでした。")
    assert "あと 2 回まで K5 に問い合わせます" in refused


def test_a_k5_member_s_job_runs_with_the_projects_service_credential(k5_login, k5sim, project):
    """The person's identity decides what they may do; K5 is asked with the project's own
    user (demo-user), never with the person's password or token."""
    k5sim.control("PUT", "users/view-user/projects/demo-project-1/roles/_member_")
    client = Client()
    k5_sign_in(client)
    k5sim.clear_requests()

    queued = client.post(
        f"/projects/{project.pk}/volumes/{CENTOS_WEB}/create-image/",
        {"image_name": "web-golden", "preparation_confirmed": "on"},
    )

    assert queued.status_code == 302
    job = ImageJob.objects.get()
    assert job.requested_by.username == "demo/view-user"
    signed_in_as = {e["user_id"] for e in k5sim.requests_log() if e["auth_method"] == "password"}
    assert signed_in_as == {DEMO_USER_ID}, "the submission checks used the service credential"


def test_the_profile_says_where_the_memberships_come_from_and_until_when(k5_login, project):
    client = Client()
    k5_sign_in(client)
    signed_in_at = ExternalAccount.objects.get().last_sign_in_at

    status = Page(client.get("/profile/")).main.one("p", role="status").text

    until = timezone.localtime(signed_in_at + timedelta(hours=12))
    assert status == (
        "You sign in with your K5 account: your projects and roles come from K5 at each "
        f"sign-in. Without a new sign-in they, and these tokens, stop working at "
        f"{until:%Y-%m-%d %H:%M}."
    )


def test_a_disabled_k5_user_is_signed_out_at_their_next_request(k5_login, project):
    client = Client()
    k5_sign_in(client)
    assert client.get("/jobs/").status_code == 200

    User.objects.filter(username="demo/view-user").update(is_active=False)

    response = client.get("/jobs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
