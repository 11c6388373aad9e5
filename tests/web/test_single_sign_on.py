"""Company single sign-on (OpenID Connect, OIDC_ISSUER) against a small OpenID provider the test
starts (tests/support/oidc_provider.py): the button on the sign-in page, the code flow with
PKCE, memberships from the `groups` claim through OIDC_GROUP_MAP replaced at each sign-in and
audited, and id_tokens that must not be trusted refused.

carol is the company's person: groups imaging-dev (member of both projects) and auditors
(viewer of demo-project-2); the portal's cast (bob, a local member) is untouched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import User
from django.test import Client

from imaging.models import EventKind, ExternalAccount, JobEvent, Membership
from imaging.signin.oidc import forget_provider
from tests.support.oidc_provider import OpenIDProvider
from tests.web.page import Page

CAROL = {
    "sub": "248289761001",
    "preferred_username": "carol",
    "email": "carol@example.com",
    "groups": ["imaging-dev", "auditors", "cafeteria"],
}
GROUP_MAP = {
    "imaging-ops": [("demo-project-1", "admin")],
    "imaging-dev": [("demo-project-1", "member"), ("demo-project-2", "member")],
    "auditors": [("demo-project-2", "viewer")],
}


@pytest.fixture
def provider(settings):
    with OpenIDProvider(client_id="k5-portal", client_secret="portal-client-secret") as op:
        settings.OIDC_ISSUER = op.issuer
        settings.OIDC_RP_CLIENT_ID = "k5-portal"
        settings.OIDC_RP_CLIENT_SECRET = "portal-client-secret"
        settings.OIDC_GROUP_MAP = GROUP_MAP
        forget_provider()
        yield op
        forget_provider()


def sso_sign_in(client: Client, provider: OpenIDProvider, claims: dict, next_url: str = ""):
    """Press the button, let the provider answer, follow it back to the portal."""
    provider.next_sign_in = claims
    start = client.get("/accounts/sso/authenticate/", {"next": next_url} if next_url else {})
    assert start.status_code == 302, start.status_code
    assert start["Location"].startswith(f"{provider.issuer}/authorize?")
    answer = requests.get(start["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/accounts/sso/callback/"
    return client.get(f"{back.path}?{back.query}")


def memberships(username: str) -> dict[str, tuple[str, str]]:
    return {
        m.project.name: (m.role, m.source)
        for m in Membership.objects.filter(user__username=username).select_related("project")
    }


def messages_after(client: Client, response) -> list[str]:
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    return Page(client.get(response["Location"])).messages


def test_the_sign_in_page_has_the_single_sign_on_button_when_it_is_configured(
    provider, project, settings
):
    main = Page(Client().get("/accounts/login/", {"next": "/jobs/"})).main
    button = main.one("section", id_="sso-sign-in").one("a")
    assert button.text == "Sign in with single sign-on"
    assert button.attrs["href"] == "/accounts/sso/authenticate/?next=/jobs/"

    settings.OIDC_ISSUER = ""
    assert not Page(Client().get("/accounts/login/")).main.has("section", id_="sso-sign-in")
    assert Client().get("/accounts/sso/authenticate/").status_code == 404


def test_a_person_signs_in_and_gets_memberships_from_their_groups(provider, project, other_project):
    client = Client()

    response = sso_sign_in(client, provider, CAROL, next_url="/jobs/")

    assert response.status_code == 302 and response["Location"] == "/jobs/"
    assert memberships("sso/carol") == {
        "demo-project-1": ("member", "oidc"),
        "demo-project-2": ("member", "oidc"),
    }
    assert "sso/carol" in Page(client.get("/jobs/")).one("header").text
    account = ExternalAccount.objects.get(user__username="sso/carol")
    assert (account.source, account.key) == ("oidc", f"{provider.issuer} 248289761001")
    assert not account.user.has_usable_password()
    assert account.user.email == "carol@example.com"
    assert list(
        JobEvent.objects.filter(project=other_project, kind=EventKind.ACCESS).values_list(
            "message", flat=True
        )
    ) == ["sso/carol joined the project as member through a single sign-on (groups: imaging-dev)."]
    assert "POST /token" in provider.log and "GET /jwks" in provider.log


def test_the_next_sign_in_replaces_the_memberships_from_the_groups(
    provider, project, other_project, bob
):
    sso_sign_in(Client(), provider, CAROL)

    sso_sign_in(Client(), provider, {**CAROL, "groups": ["auditors", "imaging-ops"]})

    assert memberships("sso/carol") == {
        "demo-project-1": ("admin", "oidc"),
        "demo-project-2": ("viewer", "oidc"),
    }
    assert memberships("bob") == {"demo-project-1": ("member", "operator")}
    changes = JobEvent.objects.filter(kind=EventKind.ACCESS).order_by("id")
    assert [e.message for e in changes][-2:] == [
        "sso/carol's role changed from member to admin at a single sign-on (groups: imaging-ops).",
        "sso/carol's role changed from member to viewer at a single sign-on (groups: auditors).",
    ]
    assert ExternalAccount.objects.count() == 1, "the same person, found by issuer and subject"


def test_groups_that_give_no_project_leave_the_person_out_and_say_so(provider, project):
    client = Client()
    sso_sign_in(client, provider, CAROL)

    response = sso_sign_in(client, provider, {**CAROL, "groups": ["cafeteria"]})

    assert messages_after(client, response) == [
        "Single sign-on signed you in, but none of your groups gives you a role in a project "
        "of this portal. Ask an operator."
    ]
    assert memberships("sso/carol") == {}
    assert Client().get("/").status_code == 302


@pytest.mark.parametrize(
    ("forgery", "why"),
    [
        ({"aud": "another-app"}, "the id_token is meant for another client"),
        ({"iss": "https://evil.example"}, "the id_token comes from another issuer"),
        ("other key", "JWS token verification failed"),
    ],
)
def test_an_id_token_the_portal_must_not_trust_signs_nobody_in(provider, project, forgery, why):
    if forgery == "other key":
        provider.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        provider.id_token_overrides = forgery
    client = Client()

    response = sso_sign_in(client, provider, CAROL)

    [message] = messages_after(client, response)
    assert message.startswith("Single sign-on did not sign you in:") and why in message
    assert not ExternalAccount.objects.exists() and not Membership.objects.exists()


def test_a_provider_that_cannot_be_reached_is_said_plainly(provider, project, settings):
    settings.OIDC_ISSUER = "http://127.0.0.1:9"  # discard port: nothing listens
    client = Client()

    response = client.get("/accounts/sso/authenticate/")

    assert messages_after(client, response) == [
        "The company single sign-on cannot be reached just now."
    ]


def test_a_disabled_person_is_signed_out_at_their_next_request(provider, project, other_project):
    client = Client()
    sso_sign_in(client, provider, CAROL)
    assert client.get("/jobs/").status_code == 200

    User.objects.filter(username="sso/carol").update(is_active=False)

    response = client.get("/jobs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/api/v1/projects/").status_code == 401, "the API session ends too"
