"""Redis stopped mid-run (the test's own redis-server holding the cache and the task broker):
no request answers 500. A token that could be a guess is refused with 503 `unavailable` and
Retry-After, naming nothing internal (its failure could not be counted); an authenticated
request goes on without the lockout and the throttle."""

from __future__ import annotations

from tests.api.client import Api, error_of
from tests.support.jobs import make_job


def test_a_token_that_could_be_a_guess_is_refused_with_503_while_the_cache_is_down(
    project, bob, redis_everywhere, caplog
):
    redis_everywhere.stop()

    response = Api("not-a-real-token").get("/api/v1/jobs/")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    error = error_of(response)
    assert error["code"] == "unavailable"
    assert "cannot be checked right now" in error["message"]
    text = response.content.decode().lower()
    assert "redis" not in text and str(redis_everywhere.port) not in text
    assert "127.0.0.1" not in text and "connection" not in text
    assert any("refused uncounted" in r.getMessage() for r in caplog.records)


def test_a_valid_token_reads_while_the_cache_is_down(api, project, bob, redis_everywhere):
    tool = api(bob)
    make_job(project, bob)
    redis_everywhere.stop()

    response = tool.get("/api/v1/jobs/")

    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1
