"""Guessing API tokens locks the address out: after AXES_FAILURE_LIMIT (5) bad tokens from one
address within the cool-off (15 minutes), every request with a token from it — a good one
too — is a JSON 429 `locked_out` with Retry-After until the cool-off has passed. Other
addresses, and the sign-in form, are not affected; every bad token and the lock are logged."""

from __future__ import annotations

import logging
import re
import time
from types import SimpleNamespace

from django.test import Client

from portal import signin
from tests.api.client import Api, error_of

ADDRESS = "198.51.100.20"


def projects(tool: Api, at: str = ADDRESS, **headers):
    """GET /api/v1/projects/ from the address `at`."""
    return tool.request("GET", "/api/v1/projects/", REMOTE_ADDR=at, headers=headers)


def bad_tokens(count: int, at: str = ADDRESS, **headers) -> list:
    return [projects(Api(f"not-a-token-{n}"), at, **headers) for n in range(count)]


def test_after_five_bad_tokens_even_a_good_token_is_refused(api, project, bob):
    good = api(bob)
    assert projects(good).status_code == 200

    answers = bad_tokens(5)
    assert [a.status_code for a in answers] == [401] * 5

    refused = projects(good)
    assert refused.status_code == 429
    error = error_of(refused)
    assert error["code"] == "locked_out"
    assert "Too many invalid API tokens came from your address." in error["message"]
    assert 890 <= int(refused["Retry-After"]) <= 900
    assert f"refused for {refused['Retry-After']} more seconds." in error["message"]

    again = bad_tokens(1)[0]
    assert again.status_code == 429, "a bad token while locked is refused the same way"


def test_four_bad_tokens_lock_nothing(api, project, bob):
    bad_tokens(4)
    assert projects(api(bob)).status_code == 200


def test_other_addresses_are_not_affected(api, project, bob):
    bad_tokens(5)
    assert projects(api(bob), "198.51.100.21").status_code == 200


def test_the_lock_ends_after_the_cool_off(api, project, bob, monkeypatch):
    bad_tokens(5)
    good = api(bob)
    assert projects(good).status_code == 429

    now = time.time()
    monkeypatch.setattr(signin, "time", SimpleNamespace(time=lambda: now + 14 * 60))
    almost = projects(good)
    assert almost.status_code == 429
    assert 59 <= int(almost["Retry-After"]) <= 60

    monkeypatch.setattr(signin, "time", SimpleNamespace(time=lambda: now + 15 * 60 + 1))
    assert projects(good).status_code == 200


def test_the_limit_is_the_sign_in_limit(api, project, bob, settings):
    settings.AXES_FAILURE_LIMIT = 2
    bad_tokens(2)
    assert projects(api(bob)).status_code == 429


def test_malformed_authorization_headers_count_as_bad_tokens(api, project, bob):
    for header in ("Token", "Token two words", "Token x", "Token y", "Token z"):
        response = Client().get(
            "/api/v1/projects/", headers={"Authorization": header}, REMOTE_ADDR=ADDRESS
        )
        assert response.status_code == 401
    assert projects(api(bob)).status_code == 429


def test_requests_without_a_token_are_not_counted(project, bob):
    for _ in range(10):
        assert Client().get("/api/v1/projects/", REMOTE_ADDR=ADDRESS).status_code == 401
    assert bad_tokens(1)[0].status_code == 401, "not locked"


def test_a_locked_address_can_still_use_the_sign_in_form(api, project, bob):
    """The API's count is its own: a tool with a stale token does not lock people out of the
    sign-in page (and the form's failures do not lock the tools)."""
    bad_tokens(5)
    browser = Client(enforce_csrf_checks=True)
    form = browser.get("/accounts/login/", REMOTE_ADDR=ADDRESS).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    signed_in = browser.post(
        "/accounts/login/",
        {"username": "bob", "password": "bob-password-1", "csrfmiddlewaretoken": token},
        REMOTE_ADDR=ADDRESS,
    )
    assert signed_in.status_code == 302


def test_every_bad_token_and_the_lock_are_logged(api, project, bob, caplog):
    caplog.set_level(logging.WARNING, logger="portal.signin")
    bad_tokens(5)
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.signin"]
    assert lines[:5] == [
        f"API token refused: address={ADDRESS} path=/api/v1/projects/ ({n} of 5)"
        for n in range(1, 6)
    ]
    assert lines[5] == (
        f"API tokens locked out: address={ADDRESS} path=/api/v1/projects/ "
        "(5 bad tokens; locked for 15 minutes)"
    )
    assert all("not-a-token" not in line for line in lines), "no token in the log"


def test_behind_a_proxy_the_configured_header_gives_the_address(api, project, bob, settings):
    settings.CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    proxy = "10.0.0.2"
    bad_tokens(5, at=proxy, x_forwarded_for="192.0.2.1, 203.0.113.70")

    good = api(bob)
    locked = projects(good, proxy, x_forwarded_for="203.0.113.70")
    assert locked.status_code == 429
    other = projects(good, proxy, x_forwarded_for="203.0.113.71")
    assert other.status_code == 200
