"""Guessing passwords locks the guesser out: after AXES_FAILURE_LIMIT (5) failed sign-ins a user
name, or an address, is locked for the cool-off (15 minutes) — through the real sign-in forms
(the portal's and the admin's), CSRF checked, as a browser sends them. Even the right password
is refused while it lasts; operators see the attempts in the admin, and every failure and lock
is logged on `portal.signin`."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.utils import timezone

from tests.support.cast import make_user
from tests.web.page import Page

WRONG = "Please enter a correct username and password."
LOCKED = "Too many failed sign-ins for this user name or from your address"
LOCKED_JA = "ログイン失敗が多すぎるため、15 分間ログインできません。"
HOME = "198.51.100.10"


def browser(**headers) -> Client:
    return Client(enforce_csrf_checks=True, headers=headers)


def sign_in(client: Client, username: str, password: str, *, path="/accounts/login/", at=HOME):
    """Fill the sign-in form at `path` as a browser at address `at` would: GET it, then POST
    it with the CSRF token it carries."""
    form = client.get(path, REMOTE_ADDR=at)
    assert form.status_code == 200, form.status_code
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode())
    return client.post(
        path,
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token.group(1),
            "next": "/jobs/" if path == "/accounts/login/" else "/admin/",
        },
        REMOTE_ADDR=at,
    )


def alert(response) -> str:
    return Page(response).main.one("div", role="alert").text


def is_signed_in(client: Client) -> bool:
    return client.get("/jobs/").status_code == 200


def test_the_fifth_wrong_password_locks_and_then_even_the_right_one_is_refused(project, bob):
    client = browser()
    for attempt in range(4):
        refused = sign_in(client, "bob", f"guess-{attempt}")
        assert refused.status_code == 200
        assert WRONG in alert(refused)

    fifth = sign_in(client, "bob", "guess-5")
    assert fifth.status_code == 429
    assert LOCKED in alert(fifth)
    assert "locked for 15 minutes" in alert(fifth)
    assert fifth["Retry-After"] == "900"

    sixth = sign_in(client, "bob", "guess-6")
    assert sixth.status_code == 429
    assert LOCKED in alert(sixth)

    right = sign_in(client, "bob", "bob-password-1")
    assert right.status_code == 429
    assert "even the right password is refused" in alert(right)
    assert not is_signed_in(client)


def test_the_locked_page_is_a_sign_in_form_in_the_users_language(project, bob):
    client = browser()
    client.cookies["django_language"] = "ja"
    for attempt in range(5):
        response = sign_in(client, "bob", f"guess-{attempt}")
    assert response.status_code == 429
    page = Page(response)
    assert LOCKED_JA in page.main.one("div", role="alert").text
    assert "運用担当者" in page.main.one("div", role="alert").text
    assert page.label_for("username") == "ユーザー名"
    assert page.main.one("button").text == "ログイン"


def test_the_lock_is_per_user_name_from_any_address(project, bob, dana):
    for n in range(5):
        sign_in(browser(), "bob", "guess", at=f"203.0.113.{n + 1}")

    from_a_new_address = sign_in(browser(), "bob", "bob-password-1", at="203.0.113.99")
    assert from_a_new_address.status_code == 429

    dana_there = browser()
    assert sign_in(dana_there, "dana", "dana-password-1", at="203.0.113.1").status_code == 302
    assert is_signed_in(dana_there), "another user at one of those addresses is not locked"


def test_the_lock_is_per_address_whatever_the_user_names(project, bob, dana):
    for name in ("alice", "root", "admin", "bob", "dana"):
        sign_in(browser(), name, "guess", at="192.0.2.66")

    assert sign_in(browser(), "dana", "dana-password-1", at="192.0.2.66").status_code == 429

    elsewhere = browser()
    assert sign_in(elsewhere, "dana", "dana-password-1", at=HOME).status_code == 302
    assert is_signed_in(elsewhere), "dana herself is not locked"


def test_the_admin_sign_in_locks_too(project, stella):
    client = browser()
    for attempt in range(4):
        refused = sign_in(client, "stella", f"guess-{attempt}", path="/admin/login/")
        assert refused.status_code == 200
    fifth = sign_in(client, "stella", "guess", path="/admin/login/")
    assert fifth.status_code == 429
    assert LOCKED in alert(fifth)

    right = sign_in(client, "stella", "stella-password-1", path="/admin/login/")
    assert right.status_code == 429
    assert client.get("/admin/").status_code == 302, "not signed in to the admin"


def test_failures_on_either_form_count_together(project, stella):
    client = browser()
    for attempt in range(3):
        sign_in(client, "stella", f"guess-{attempt}")
    for attempt in range(2):
        response = sign_in(client, "stella", f"guess-{attempt}", path="/admin/login/")
    assert response.status_code == 429
    assert sign_in(client, "stella", "stella-password-1").status_code == 429


def test_after_the_cool_off_the_right_password_works_again(project, bob):
    client = browser()
    for attempt in range(5):
        sign_in(client, "bob", f"guess-{attempt}")
    assert sign_in(client, "bob", "bob-password-1").status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))

    assert sign_in(client, "bob", "bob-password-1").status_code == 302
    assert is_signed_in(client)


def test_the_locked_page_says_how_long_is_left(project, bob):
    client = browser()
    for attempt in range(5):
        sign_in(client, "bob", f"guess-{attempt}")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))

    later = sign_in(client, "bob", "bob-password-1")

    assert later.status_code == 429
    assert "locked for 5 minutes." in alert(later)
    assert 295 <= int(later["Retry-After"]) <= 300


def test_fewer_failures_than_the_limit_lock_nothing(project, bob):
    client = browser()
    for attempt in range(4):
        sign_in(client, "bob", f"guess-{attempt}")
    assert sign_in(client, "bob", "bob-password-1").status_code == 302
    assert is_signed_in(client)


def test_the_limit_and_the_cool_off_are_settings(project, bob, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    client = browser()
    assert sign_in(client, "bob", "guess-1").status_code == 200
    second = sign_in(client, "bob", "guess-2")
    assert second.status_code == 429
    assert "locked for 1 minute." in alert(second)
    assert second["Retry-After"] == "60"


def test_every_failure_and_the_lock_are_logged(project, bob, caplog):
    caplog.set_level(logging.WARNING, logger="portal.signin")
    client = browser()
    for attempt in range(5):
        sign_in(client, "bob", f"guess-{attempt}")

    lines = [r.getMessage() for r in caplog.records if r.name == "portal.signin"]
    failed = [line for line in lines if line.startswith("sign-in failed")]
    locked = [line for line in lines if line.startswith("sign-in locked out")]
    assert len(failed) == 5
    assert failed[0] == f"sign-in failed: user='bob' address={HOME} path=/accounts/login/"
    assert len(locked) == 1
    assert locked[0].startswith(f"sign-in locked out: user='bob' address={HOME}")
    assert all("guess" not in line for line in lines), "no password in the log"


def test_operators_see_the_attempts_in_the_admin(project, bob):
    for attempt in range(5):
        sign_in(browser(), "bob", f"guess-{attempt}")
    assert AccessFailureLog.objects.filter(username="bob").count() == 5
    assert AccessAttempt.objects.get(username="bob").failures_since_start == 5

    operator = browser()
    operator.force_login(make_user("root", is_staff=True, is_superuser=True))
    attempts = operator.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200
    assert HOME in attempts.content.decode()
    failures = operator.get("/admin/axes/accessfailurelog/")
    assert failures.status_code == 200
    assert "bob" in failures.content.decode()


def test_an_operator_unlocks_by_deleting_the_attempt(project, bob):
    client = browser()
    for attempt in range(5):
        sign_in(client, "bob", f"guess-{attempt}")
    AccessAttempt.objects.filter(username="bob").delete()
    assert sign_in(client, "bob", "bob-password-1").status_code == 302


def test_behind_a_proxy_the_configured_header_gives_the_address(project, bob, settings):
    settings.CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"  # from X-Forwarded-For
    proxy = "10.0.0.2"
    for attempt in range(5):
        # The client wrote its own X-Forwarded-For; the proxy appended the real address.
        spoofing = browser(x_forwarded_for=f"192.0.2.{attempt}, 203.0.113.50")
        sign_in(spoofing, "guess-user", f"guess-{attempt}", at=proxy)

    assert AccessAttempt.objects.get().ip_address == "203.0.113.50"
    locked = browser(x_forwarded_for="203.0.113.50")
    assert sign_in(locked, "bob", "bob-password-1", at=proxy).status_code == 429
    other = browser(x_forwarded_for="203.0.113.51")
    assert sign_in(other, "bob", "bob-password-1", at=proxy).status_code == 302


def test_without_the_setting_a_forwarded_header_is_ignored(project, bob):
    """Else anyone could pick a fresh address for each guess."""
    for attempt in range(5):
        sign_in(browser(x_forwarded_for=f"192.0.2.{attempt}"), "guess-user", "guess")
    assert AccessAttempt.objects.get().ip_address == HOME
    fresh_claim = browser(x_forwarded_for="192.0.2.200")
    assert sign_in(fresh_claim, "bob", "bob-password-1").status_code == 429
