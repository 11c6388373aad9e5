"""API tokens keep working for local accounts as before; a token of a K5 (or single sign-on)
account stops working when the memberships its sign-in gave have lapsed, and works again after
the person signs in anew."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from imaging.models import ApiToken, Membership
from tests.api.client import Api
from tests.support.demo import VIEW_PASSWORD, VIEW_USER


@pytest.fixture
def k5_account(settings, project):
    """view-user, signed in once through the K5 form: a viewer of the project."""
    settings.K5_LOGIN = True
    settings.K5_ROLE_MAP = {"reader": "viewer"}
    response = Client().post(
        "/accounts/login/k5/",
        {"k5-contract": "demo", "k5-username": VIEW_USER, "k5-password": VIEW_PASSWORD},
    )
    assert response.status_code == 302
    return Membership.objects.get(user__username="demo/view-user").user


def age_memberships(user, by: timedelta) -> None:
    for membership in Membership.objects.filter(user=user):
        Membership.objects.filter(pk=membership.pk).update(synced_at=membership.synced_at - by)


def test_a_k5_accounts_token_stops_working_when_its_memberships_lapse(k5_account, project):
    _token, key = ApiToken.issue(k5_account, "report script")
    assert [p["name"] for p in Api(key).get("/api/v1/projects/").json()] == ["demo-project-1"]

    age_memberships(k5_account, timedelta(hours=12, seconds=1))

    refused = Api(key).get("/api/v1/projects/")
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == (
        "The memberships of this token's account have lapsed: sign in to the portal with it "
        "again to renew them."
    )


def test_signing_in_again_brings_the_token_back(k5_account, project):
    _token, key = ApiToken.issue(k5_account, "report script")
    age_memberships(k5_account, timedelta(days=2))
    assert Api(key).get("/api/v1/projects/").status_code == 401

    Client().post(
        "/accounts/login/k5/",
        {"k5-contract": "demo", "k5-username": VIEW_USER, "k5-password": VIEW_PASSWORD},
    )

    assert Api(key).get("/api/v1/projects/").status_code == 200


def test_a_local_accounts_token_works_as_before_even_without_a_project(charlie, bob, project):
    _token, charlie_key = ApiToken.issue(charlie, "tool")
    _token, bob_key = ApiToken.issue(bob, "tool")

    assert Api(charlie_key).get("/api/v1/projects/").json() == []
    assert [p["name"] for p in Api(bob_key).get("/api/v1/projects/").json()] == ["demo-project-1"]
