"""API tokens: stored hashed, shown once (profile page or `manage.py apitoken create`), with
an expiry and an enabled flag, and `last_used` written at most once a minute."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from imaging.models import ApiToken
from tests.api.client import Api

KEY_ON_PAGE = re.compile(r'<code id="new-key">([^<]+)</code>')


def every_stored_value(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return " ".join(str(value) for row in cursor.fetchall() for value in row)


def test_the_key_is_never_stored(project, bob):
    token, key = ApiToken.issue(bob, "CI pipeline")
    stored = every_stored_value(ApiToken._meta.db_table)
    assert token.digest in stored
    assert key not in stored
    assert key[8:] not in stored  # only a short prefix is kept in clear, to find the row
    assert len(key) >= 40


@pytest.fixture
def browser(bob):
    client = Client()
    client.force_login(bob)
    return client


def test_the_profile_page_shows_a_new_key_once(browser, project, bob):
    created = browser.post("/profile/", {"name": "golden-image pipeline", "expires_days": ""})
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    [key] = KEY_ON_PAGE.findall(created.content.decode())
    assert Api(key).get("/api/v1/projects/").status_code == 200

    again = browser.get("/profile/").content.decode()
    assert key not in again
    assert KEY_ON_PAGE.findall(again) == []
    assert f"<code>{key[:8]}…</code>" in again
    assert "golden-image pipeline" in again


def test_a_key_created_with_an_expiry_stops_working_then(browser, project, bob):
    created = browser.post("/profile/", {"name": "short-lived", "expires_days": "2"})
    [key] = KEY_ON_PAGE.findall(created.content.decode())
    token = ApiToken.objects.get(user=bob)
    assert abs(token.expires_at - (timezone.now() + timedelta(days=2))) < timedelta(minutes=1)
    assert Api(key).get("/api/v1/projects/").status_code == 200

    ApiToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert Api(key).get("/api/v1/projects/").status_code == 401
    assert ">expired<" in browser.get("/profile/").content.decode()


def test_disabling_a_token_on_the_profile_page_stops_it(browser, project, bob):
    [key] = KEY_ON_PAGE.findall(browser.post("/profile/", {"name": "ci"}).content.decode())
    token = ApiToken.objects.get(user=bob)
    browser.post("/profile/", {"disable": token.pk})
    assert Api(key).get("/api/v1/projects/").status_code == 401
    assert ">disabled<" in browser.get("/profile/").content.decode()


def test_nobody_can_disable_someone_elses_token(project, bob, dana):
    token, key = ApiToken.issue(bob, "ci")
    intruder = Client()
    intruder.force_login(dana)
    intruder.post("/profile/", {"disable": token.pk})
    assert Api(key).get("/api/v1/projects/").status_code == 200


def test_a_garbled_disable_request_changes_nothing_and_breaks_nothing(browser, project, bob):
    _token, key = ApiToken.issue(bob, "ci")
    response = browser.post("/profile/", {"disable": "abc"})
    assert response.status_code in (200, 302)
    assert Api(key).get("/api/v1/projects/").status_code == 200


def test_the_profile_page_lists_only_your_own_tokens(browser, project, bob, dana):
    ApiToken.issue(bob, "bob's pipeline")
    ApiToken.issue(dana, "dana's chat bot")
    page = browser.get("/profile/").content.decode()
    assert "bob&#x27;s pipeline" in page
    assert "dana" not in page


def updates_of_tokens(queries) -> int:
    return sum(
        1 for q in queries if q["sql"].startswith("UPDATE") and ApiToken._meta.db_table in q["sql"]
    )


def test_last_used_is_written_at_most_once_a_minute(api, project, bob):
    tool = api(bob)
    with CaptureQueriesContext(connection) as queries:
        tool.get("/api/v1/projects/")
        tool.get("/api/v1/projects/")
    assert updates_of_tokens(queries.captured_queries) == 1
    first_use = ApiToken.objects.get().last_used
    assert abs(first_use - timezone.now()) < timedelta(seconds=5)

    ApiToken.objects.update(last_used=timezone.now() - timedelta(seconds=61))
    with CaptureQueriesContext(connection) as queries:
        tool.get("/api/v1/projects/")
    assert updates_of_tokens(queries.captured_queries) == 1
    assert abs(ApiToken.objects.get().last_used - timezone.now()) < timedelta(seconds=5)


def test_the_command_prints_a_working_key_once(project, bob):
    out, err = StringIO(), StringIO()
    call_command("apitoken", "create", "bob", "--expires", "30", stdout=out, stderr=err)
    [key] = out.getvalue().split()
    assert key not in err.getvalue()
    assert "expires" in err.getvalue()
    assert Api(key).get("/api/v1/projects/").json()[0]["name"] == "demo-project-1"
    token = ApiToken.objects.get(user=bob)
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)

    listing = StringIO()
    call_command("apitoken", "list", "bob", stdout=listing)
    assert token.prefix in listing.getvalue()
    assert key not in listing.getvalue()

    call_command("apitoken", "disable", token.prefix, stdout=StringIO())
    assert Api(key).get("/api/v1/projects/").status_code == 401


def test_a_key_never_starts_with_a_dash_so_the_command_line_can_disable_it(bob, monkeypatch):
    drawn = iter(["-dashfirst" + "x" * 33, "plainkey" + "y" * 35])
    monkeypatch.setattr("imaging.models.tokens.secrets.token_urlsafe", lambda n: next(drawn))
    token, key = ApiToken.issue(bob, "tool")
    assert key.startswith("plainkey")
    assert token.prefix == "plainkey"


def test_an_older_token_whose_prefix_starts_with_a_dash_is_disabled_after_a_double_dash(bob):
    token = ApiToken.objects.create(user=bob, name="old", prefix="-Ab3xYz9", digest="0" * 64)
    out = StringIO()
    call_command("apitoken", "disable", "--", "-Ab3xYz9", stdout=out)
    token.refresh_from_db()
    assert not token.enabled
    assert "-Ab3xYz9" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["create", "nobody"], "no portal user named 'nobody'"),
        (["create", "bob", "--expires", "0"], "--expires must be at least 1 day"),
        (["disable", "zzzzzzzz"], "no token starts with 'zzzzzzzz'"),
    ],
)
def test_the_command_refuses_what_it_cannot_do(project, bob, args, words):
    with pytest.raises(CommandError, match=re.escape(words)):
        call_command("apitoken", *args, stdout=StringIO(), stderr=StringIO())
    assert ApiToken.objects.count() == 0
