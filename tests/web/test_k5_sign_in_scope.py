"""What one K5 sign-in speaks for: the registered projects of the region and identity endpoint
signed into, of the person's own contract (the K5 domain). Memberships elsewhere stay as their
own sign-ins left them; an account it gives nothing leaves no portal user behind; the audit
names the projects it added, changed, removed and kept.

The one simulator stands in for every region: a project is moved to another region, or behind
another identity endpoint, by what its K5Project row says.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from imaging.models import (
    EventKind,
    ExternalAccount,
    JobEvent,
    K5Project,
    Membership,
    MembershipSource,
    Role,
)
from tests.web.test_k5_sign_in import ROLE_MAP, k5_sign_in, memberships, refusal

K5 = MembershipSource.K5


@pytest.fixture
def k5_login(settings):
    settings.K5_LOGIN = True
    settings.K5_ROLE_MAP = dict(ROLE_MAP)
    settings.K5_LOGIN_MAX_AGE = timedelta(hours=12)


def rebind(project: K5Project, **fields) -> None:
    K5Project.objects.filter(pk=project.pk).update(**fields)


def registered(name: str, k5sim, **fields) -> K5Project:
    """A registered project K5 (the simulator) knows nothing of."""
    return K5Project.objects.create(
        name=name,
        region=fields.pop("region", "jp-east-1"),
        identity_url=fields.pop("identity_url", k5sim.auth_url),
        contract="demo",
        k5_project_id=fields.pop("k5_project_id", "bbbb0000000000000000000000000001"),
        username="demo-user",
        password_encrypted="x",
        **fields,
    )


def test_signing_in_to_another_region_keeps_the_memberships_of_the_first(
    k5_login, k5sim, project, other_project
):
    rebind(other_project, region="uk-1")
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")
    k5_sign_in(Client(), region="jp-east-1")

    response = k5_sign_in(Client(), region="uk-1")

    assert response.status_code == 302
    assert memberships("demo/view-user") == {
        "demo-project-1": (Role.VIEWER, K5),
        "demo-project-2": (Role.MEMBER, K5),
    }
    assert [e.detail["after"] for e in JobEvent.objects.filter(kind=EventKind.ACCESS)] == [
        "viewer",
        "member",
    ], "nothing was removed"


def test_a_membership_behind_another_identity_endpoint_of_the_region_is_kept(
    k5_login, k5sim, project, other_project
):
    registered("demo-project-3", k5sim)  # so that the simulator stays the region's endpoint
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")
    k5_sign_in(Client())
    rebind(other_project, identity_url="https://identity.elsewhere.example/v3")
    # This K5 no longer speaks for demo-project-2: its roles there say nothing.
    k5sim.control("DELETE", "users/view-user/projects/demo-project-2/roles/_member_")

    assert k5_sign_in(Client()).status_code == 302

    assert memberships("demo/view-user") == {
        "demo-project-1": (Role.VIEWER, K5),
        "demo-project-2": (Role.MEMBER, K5),
    }


def test_a_project_of_another_contract_gives_no_role(k5_login, k5sim, project, other_project):
    rebind(other_project, contract="other-contract")
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/admin")

    response = k5_sign_in(Client())

    assert response.status_code == 302
    assert memberships("demo/view-user") == {"demo-project-1": (Role.VIEWER, K5)}
    assert not JobEvent.objects.filter(project=other_project).exists()


@pytest.mark.parametrize("why", ["no K5 role", "unmapped K5 role", "another contract"])
def test_a_k5_account_given_nothing_is_refused_and_leaves_no_portal_user(
    why, k5_login, k5sim, project, settings
):
    if why == "no K5 role":
        k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")
    elif why == "unmapped K5 role":
        settings.K5_ROLE_MAP = {"admin": "admin"}
    else:
        rebind(project, contract="other-contract")
    client = Client()

    message = refusal(k5_sign_in(client))

    assert message.startswith(
        "K5 accepted your sign-in, but none of your K5 roles gives you a role in any project "
        "of this portal"
    )
    if why == "unmapped K5 role":
        assert "(demo-project-1: reader)" in message
    assert client.get("/").status_code == 302, "not signed in"
    assert not User.objects.filter(username="demo/view-user").exists()
    assert not ExternalAccount.objects.exists()


def test_the_audit_counts_what_the_sign_in_added_removed_and_kept_and_the_log_names_them(
    k5_login, k5sim, project, other_project, caplog
):
    k5_sign_in(Client())
    uk = registered("uk-project", k5sim, region="uk-1")
    Membership.objects.create(  # as a sign-in to uk-1 left it
        user=User.objects.get(username="demo/view-user"),
        project=uk,
        role=Role.VIEWER,
        source=K5,
        synced_at=timezone.now(),
    )
    k5sim.control("DELETE", "users/view-user/projects/demo-project-1/roles/reader")
    k5sim.control("PUT", "users/view-user/projects/demo-project-2/roles/_member_")

    assert k5_sign_in(Client(), region="jp-east-1").status_code == 302

    removed = JobEvent.objects.filter(project=project, kind=EventKind.ACCESS).last()
    added = JobEvent.objects.get(project=other_project, kind=EventKind.ACCESS)
    # A viewer of one project reads its events: counts, never the person's other projects.
    said = {
        "region": "jp-east-1",
        "identity_url": k5sim.auth_url,
        "added": 1,
        "changed": 0,
        "removed": 1,
        "kept": 1,
    }
    assert removed.detail["sign_in"] == said and removed.detail["after"] is None
    assert added.detail["sign_in"] == said and added.detail["after"] == "member"
    assert "uk-project" not in str(removed.detail) + str(added.detail)
    logged = [r.getMessage() for r in caplog.records if r.name == "imaging.signin"]
    assert any(
        line.endswith(
            "added: demo-project-2; changed: -; removed: demo-project-1; kept: uk-project"
        )
        for line in logged
    )
    assert memberships("demo/view-user") == {
        "demo-project-2": (Role.MEMBER, K5),
        "uk-project": (Role.VIEWER, K5),
    }
