"""Redis unreachable, seen from the pages: anything a page cannot do without Redis is a 503
page that says to try again, naming nothing internal."""

from __future__ import annotations

import redis

from imaging.web import dashboard
from tests.web.page import Page


def test_a_page_that_cannot_reach_redis_is_a_503_page_saying_to_try_again(
    signed_in, project, bob, monkeypatch
):
    def unreachable(project):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 10.0.0.7:6379.")

    monkeypatch.setattr(dashboard, "budget", unreachable)  # as any page reaching Redis would

    response = signed_in(bob).get("/")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    view = Page(response)
    assert view.main.one("h1").text == "Temporarily unavailable"
    assert "Try again in a minute" in view.main.one("p", role="alert").text
    assert "6379" not in view.html and "10.0.0.7" not in view.html
    assert "redis" not in view.html.lower() and "ConnectionError" not in view.html
