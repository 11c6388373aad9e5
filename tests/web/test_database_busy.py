"""SQLite lets one writer at a time. A sign-in that meets another's write lock waits for it
(SQLITE_BUSY_TIMEOUT); one that waits in vain is told the database is busy (503, Retry-After),
not a 500; and /readyz fails, naming the database, while nothing can be written.

The lock is held by a second connection to the test database, as a qcluster's (or a backup's)
would be. These tests commit (transactional_db): the test's own transaction would otherwise
hold the lock itself."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from django.test import Client

from imaging.models import ApiToken
from tests.web.page import Page

TOKEN = "monitoring-token-for-tests"

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the write lock is SQLite's")


@pytest.fixture
def write_lock(transactional_db) -> Iterator[Callable[[], sqlite3.Connection]]:
    """`write_lock()`: another connection takes the database's write lock and holds it until
    it rolls back (or the test ends)."""
    others: list[sqlite3.Connection] = []

    def hold() -> sqlite3.Connection:
        other = sqlite3.connect(
            connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False
        )
        other.execute("BEGIN IMMEDIATE")
        others.append(other)
        return other

    yield hold
    for other in others:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def short_busy_timeout(monkeypatch) -> None:
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.2)
    connection.close()  # reopened with it


def sign_in(client: Client):
    return client.post("/accounts/login/", {"username": "bob", "password": "bob-password-1"})


def test_readyz_fails_naming_the_database_while_it_cannot_be_written(write_lock, client, settings):
    settings.METRICS_TOKEN = TOKEN
    lock = write_lock()
    locked = client.get("/readyz?exclude=engine,k5", headers={"Authorization": f"Bearer {TOKEN}"})
    assert locked.status_code == 503
    assert locked.json()["failing"] == ["database"]
    assert locked.json()["checks"]["database"]["error"] == "cannot write: database is locked"
    assert client.get("/readyz?exclude=engine,k5").json()["checks"]["database"] == {
        "ok": False,
        "error": "cannot write",
    }, "without the token: the part and the kind of error only"

    lock.execute("ROLLBACK")
    assert client.get("/readyz?exclude=engine,k5").status_code == 200


def test_a_sign_in_during_a_brief_lock_waits_for_it_and_succeeds(write_lock, project, bob):
    release = threading.Timer(0.5, write_lock().execute, ["ROLLBACK"])
    release.start()
    try:
        response = sign_in(Client())
    finally:
        release.join()
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_sign_in_that_waits_in_vain_is_told_the_database_is_busy(
    write_lock, project, bob, monkeypatch
):
    write_lock()
    short_busy_timeout(monkeypatch)

    response = sign_in(Client(raise_request_exception=False))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert Page(response).main.one("p", role="alert").text == (
        "The portal's database is busy and nothing was changed. Try again in 5 seconds."
    )


def test_the_api_says_so_in_json(write_lock, project, bob, monkeypatch):
    _token, key = ApiToken.issue(bob, "tests")
    write_lock()
    short_busy_timeout(monkeypatch)

    response = Client(raise_request_exception=False).get(
        "/api/v1/projects/", headers={"Authorization": f"Token {key}"}
    )

    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert response.json()["error"] == {
        "code": "unavailable",
        "message": "The portal's database is busy and nothing was changed. Try again in 5 seconds.",
        "fields": {},
    }
