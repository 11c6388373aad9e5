"""Each token has its own request budget (API_THROTTLE_RATE, 600/min by default); past it the
answer is 429 in JSON with Retry-After, and other tokens go on unaffected."""

from __future__ import annotations

import time

import pytest

from imaging.api.auth import PerTokenThrottle
from imaging.models import ImageJob
from tests.api.client import error_of, job_body


@pytest.fixture(autouse=True)
def three_a_minute(monkeypatch):
    # DRF reads the rates into the class when it is imported: setting REST_FRAMEWORK now
    # would change nothing, so the class attribute itself is patched.
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"api": "3/min"})


def test_the_request_past_the_rate_is_429_with_retry_after(api, project, bob):
    tool = api(bob)
    for _ in range(3):
        assert tool.get("/api/v1/projects/").status_code == 200
    response = tool.get("/api/v1/projects/")
    assert response.status_code == 429
    assert error_of(response)["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_another_token_is_not_affected(api, project, bob, dana):
    busy, other_tool, bobs_other_token = api(bob), api(dana), api(bob)
    for _ in range(4):
        busy.get("/api/v1/projects/")
    assert busy.get("/api/v1/projects/").status_code == 429
    assert other_tool.get("/api/v1/projects/").status_code == 200
    assert bobs_other_token.get("/api/v1/projects/").status_code == 200


def test_a_throttled_submission_creates_nothing(api, project, bob):
    tool = api(bob)
    for _ in range(3):
        tool.get("/api/v1/jobs/")
    response = tool.post("/api/v1/jobs/", job_body(project))
    assert response.status_code == 429
    assert ImageJob.objects.count() == 0


def test_the_budget_comes_back_after_the_window(api, project, bob, monkeypatch):
    tool = api(bob)
    for _ in range(4):
        tool.get("/api/v1/projects/")
    assert tool.get("/api/v1/projects/").status_code == 429
    later = time.time() + 61
    monkeypatch.setattr(PerTokenThrottle, "timer", lambda self: later)
    assert tool.get("/api/v1/projects/").status_code == 200
