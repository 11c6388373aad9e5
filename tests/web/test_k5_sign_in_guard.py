"""The K5 sign-in guard: K5 locks a user after 5 wrong passwords in 15 minutes, so the portal
stops asking K5 for a user after 3 failures in 15 minutes — per contract/user name, from any
address, counted in the database for every web process — and says why and until when. A user
K5 has locked already gets K5's answer in plain words.

lock-user (demo-project-1) is the simulator's user for lockout tests; what K5 was really asked
is read from the simulator's request log (whose password each token request carried).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from imaging.models import K5SignInAttempt, SignInOutcome
from tests.k5sim.client import authenticate, password_auth
from tests.support.demo import LOCK_PASSWORD, LOCK_USER, LOCK_USER_ID
from tests.web.page import Page


@pytest.fixture
def k5_login(settings):
    settings.K5_LOGIN = True
    settings.K5_ROLE_MAP = {"_member_": "member", "reader": "viewer"}


def k5_sign_in(password: str, *, username: str = LOCK_USER, address: str = "192.0.2.1"):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/k5/",
        {"k5-contract": "demo", "k5-username": username, "k5-password": password},
    )


def said(response) -> str:
    return Page(response).main.one("section", id_="k5-sign-in").one("div", role="alert").text


def passwords_sent(k5sim, user_id: str = LOCK_USER_ID) -> list[int]:
    """The status of each password K5 received for the user."""
    return [
        entry["status"]
        for entry in k5sim.requests_log()
        if entry["auth_method"] == "password" and entry["user_id"] == user_id
    ]


def test_four_wrong_passwords_ask_k5_three_times_and_the_fourth_is_refused_with_the_reason(
    k5_login, k5sim, project
):
    k5sim.clear_requests()

    answers = [said(k5_sign_in("wrong")) for _ in range(4)]

    assert passwords_sent(k5sim) == [401, 401, 401], "K5 was asked three times, not four"
    assert "ask K5 2 more times" in answers[0] and "ask K5 1 more time " in answers[1]
    assert "will not ask K5 again for this user for 15 minutes" in answers[2]
    fourth = answers[3]
    assert fourth.startswith("The portal did not send this sign-in to K5: demo/lock-user has had")
    assert "3 failed K5 sign-ins in the last 15 minutes, and K5 locks a user after 5." in fourth
    first = K5SignInAttempt.objects.order_by("started_at").first().started_at
    until = timezone.localtime(first + timedelta(minutes=15))
    assert fourth.endswith(f"Try again after {until:%H:%M:%S} UTC.")
    lock_user = next(u for u in k5sim.state()["users"] if u["id"] == LOCK_USER_ID)
    assert lock_user["locked_until"] is None and lock_user["recent_failed_logins"] == 3


def test_the_right_password_is_refused_too_while_the_guard_holds(k5_login, k5sim, project):
    for _ in range(3):
        k5_sign_in("wrong")
    k5sim.clear_requests()

    refused = k5_sign_in(LOCK_PASSWORD)

    assert "did not send this sign-in to K5" in said(refused)
    assert passwords_sent(k5sim) == []


def test_the_guard_counts_per_k5_user_whatever_the_address_and_spelling(k5_login, k5sim, project):
    k5_sign_in("wrong", address="192.0.2.1")
    k5_sign_in("wrong", username="LOCK-USER", address="198.51.100.7")
    k5_sign_in("wrong", address="2001:db8::1")
    k5sim.clear_requests()

    assert "did not send" in said(k5_sign_in("wrong", address="203.0.113.9"))
    assert passwords_sent(k5sim) == []
    other = k5_sign_in("view-password", username="view-user", address="203.0.113.9")
    assert other.status_code == 302, "another K5 user is not held back"


def test_failures_counted_by_another_web_process_hold_here_too(k5_login, k5sim, project):
    """The count lives in the database: rows another process wrote stop this one."""
    now = timezone.now()
    for minutes in (14, 9, 1):
        K5SignInAttempt.objects.create(
            account="demo/lock-user",
            address="192.0.2.50",
            started_at=now - timedelta(minutes=minutes),
            outcome=SignInOutcome.FAILED,
        )
    k5sim.clear_requests()

    assert "did not send" in said(k5_sign_in(LOCK_PASSWORD))
    assert passwords_sent(k5sim) == []


def test_failures_older_than_15_minutes_no_longer_count(k5_login, k5sim, project):
    for _ in range(3):
        k5_sign_in("wrong")
    K5SignInAttempt.objects.update(started_at=timezone.now() - timedelta(minutes=15, seconds=1))
    k5sim.advance(901)  # K5's own window has passed too

    assert k5_sign_in(LOCK_PASSWORD).status_code == 302


def test_a_user_k5_has_locked_gets_k5s_answer_in_plain_words(k5_login, k5sim, project):
    for _ in range(5):  # someone else (Horizon, a script) locked the user in K5
        authenticate(k5sim, password_auth({"id": LOCK_USER_ID, "password": "wrong"}))

    message = said(k5_sign_in(LOCK_PASSWORD))

    assert message.startswith(
        "K5 has locked the user demo/lock-user after too many wrong passwords: until the lock "
        "ends (15 minutes after the last wrong password) K5 refuses even the right one."
    )
    assert f"K5 said: The account is locked for user: {LOCK_USER_ID}." in message


def test_k5_out_of_reach_is_not_counted(k5_login, k5sim, project):
    k5sim.add_fault(kind="http", method="POST", path="/auth/tokens", status=503, times=4)

    for _ in range(4):
        assert "K5 cannot be reached just now" in said(k5_sign_in(LOCK_PASSWORD))

    assert k5_sign_in(LOCK_PASSWORD).status_code == 302
    outcomes = list(K5SignInAttempt.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["not_sent"] * 4 + ["succeeded"]


def test_no_answer_after_the_password_was_sent_counts_as_a_failure(k5_login, k5sim, project):
    k5sim.add_fault(kind="http", method="POST", path="/auth/tokens", reset=True)

    assert "K5 may have counted it as a failed attempt" in said(k5_sign_in(LOCK_PASSWORD))
    assert list(K5SignInAttempt.objects.values_list("outcome", flat=True)) == ["failed"]
