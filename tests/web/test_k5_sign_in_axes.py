"""The K5 sign-in and the portal's sign-in protection (django-axes) together: axes counts the
K5 form's failures as any backend's, under the K5 account's portal user name (contract/user),
and refuses a locked user name or address before K5 is asked; the K5 guard (3 failures per K5
user in 15 minutes) is separate and stops first.
"""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client

from imaging.models import K5SignInAttempt
from tests.support.demo import LOCK_PASSWORD, LOCK_USER, LOCK_USER_ID, VIEW_PASSWORD, VIEW_USER
from tests.web.page import Page

HOME = "198.51.100.20"
LOCKED = "Too many failed sign-ins for this user name or from your address"


@pytest.fixture(autouse=True)
def k5_login(settings):
    settings.K5_LOGIN = True
    settings.K5_ROLE_MAP = {"_member_": "member", "reader": "viewer"}


def k5_sign_in(username: str, password: str, *, at: str = HOME):
    """The K5 form as a browser fills it: GET the page, POST with its CSRF token."""
    client = Client(enforce_csrf_checks=True)
    form = client.get("/accounts/login/", REMOTE_ADDR=at).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    return client.post(
        "/accounts/login/k5/",
        {
            "k5-contract": "demo",
            "k5-username": username,
            "k5-password": password,
            "csrfmiddlewaretoken": token,
        },
        REMOTE_ADDR=at,
    )


def k5_alert(response) -> str:
    return Page(response).main.one("section", id_="k5-sign-in").one("div", role="alert").text


def passwords_sent(k5sim, user_id: str) -> int:
    return sum(
        1
        for e in k5sim.requests_log()
        if e["auth_method"] == "password" and e["user_id"] == user_id
    )


def test_axes_counts_k5_failures_under_the_k5_accounts_portal_user_name(k5sim, project):
    for attempt in range(2):
        k5_sign_in(LOCK_USER, f"wrong-{attempt}")

    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address) == ("demo/lock-user", HOME)
    assert attempt.failures_since_start == 2
    kept = str(attempt.post_data) + " ".join(
        str(vars(failure)) for failure in AccessFailureLog.objects.all()
    )
    assert "k5-password=" in kept and "wrong-" not in kept, "the K5 password is masked"


def test_a_right_k5_password_is_no_failure_for_axes(k5sim, project):
    assert k5_sign_in(VIEW_USER, VIEW_PASSWORD).status_code == 302
    assert not AccessAttempt.objects.exists()


def test_an_address_axes_has_locked_is_refused_before_k5_is_asked(k5sim, project, bob):
    local = Client()
    for attempt in range(5):  # someone at this address guessed local passwords
        local.post(
            "/accounts/login/",
            {"username": f"user-{attempt}", "password": "guess"},
            REMOTE_ADDR=HOME,
        )
    k5sim.clear_requests()

    refused = k5_sign_in(LOCK_USER, LOCK_PASSWORD)

    assert refused.status_code == 429
    assert LOCKED in k5_alert(refused), "said in the K5 form, where the attempt was made"
    assert passwords_sent(k5sim, LOCK_USER_ID) == 0
    assert not K5SignInAttempt.objects.exists(), "the K5 guard was not even consulted"


def test_the_k5_guard_stops_asking_k5_before_axes_locks_anything(k5sim, project):
    k5sim.clear_requests()

    answers = [k5_sign_in(LOCK_USER, f"wrong-{n}") for n in range(4)]

    assert passwords_sent(k5sim, LOCK_USER_ID) == 3
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert "The portal did not send this sign-in to K5" in k5_alert(answers[3])
    assert AccessAttempt.objects.get().failures_since_start == 4, "axes saw every failure"
