"""The client example in imaging/api/README.md works: run against a live portal it submits
once however often it has to retry, waits as long as Retry-After says, and follows the job to
its end, polling less and less often. Its `time` is a fake clock, so waits cost nothing."""

from __future__ import annotations

import re

import pytest
import requests

from imaging.api.auth import PerTokenThrottle
from imaging.models import ApiToken, ImageJob, JobState
from tests.support.cast import make_user
from tests.support.demo import CENTOS_WEB, RHEL_ARCHIVE
from tests.support.simulator import ROOT

README = ROOT / "imaging" / "api" / "README.md"


class FakeTime:
    """Stands in for the `time` module: sleeping moves the clock (the throttle's too) and
    lets the world move on."""

    def __init__(self, start: float):
        self.now = start
        self.slept: list[float] = []
        self.on_sleep = lambda: None

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep()


@pytest.fixture
def client(transactional_db, live_server, project, monkeypatch):
    """The README's code, loaded as a tool would import it, with bob's token."""
    import time

    bob = make_user("bob", project, "member")
    _token, key = ApiToken.issue(bob, "golden-image pipeline")
    monkeypatch.setenv("PORTAL", live_server.url)
    monkeypatch.setenv("TOKEN", key)
    [code] = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    namespace = {"__name__": "portal_client"}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README

    clock = FakeTime(time.time())
    namespace["time"] = clock
    monkeypatch.setattr(PerTokenThrottle, "timer", lambda self: clock.now)
    namespace["clock"] = clock
    yield namespace
    # Its keep-alive connections hold the live server's threads, and their database
    # connections, open: close them as a tool exiting would.
    namespace["session"].close()


def test_it_submits_and_follows_the_job_to_its_end(client, project):
    job = client["create_image"](project.pk, CENTOS_WEB, "web-golden")
    assert (job["state"], job["terminal"]) == ("queued", False)

    states = iter(
        [
            JobState.SUBMITTING,
            JobState.UPLOADING,
            JobState.VERIFYING,
            JobState.VERIFYING,
            JobState.SUCCEEDED,
        ]
    )
    client["clock"].on_sleep = lambda: ImageJob.objects.filter(pk=job["id"]).update(
        state=next(states)
    )
    done = client["wait_until_done"](job, first=15, cap=40)

    assert (done["id"], done["state"], done["terminal"]) == (job["id"], "succeeded", True)
    assert client["clock"].slept == [15, 22.5, 33.75, 40, 40]
    assert ImageJob.objects.count() == 1


def test_it_waits_as_long_as_retry_after_says(client, project, monkeypatch):
    monkeypatch.setattr(PerTokenThrottle, "THROTTLE_RATES", {"api": "3/min"})
    for _ in range(3):
        client["call"]("GET", "/api/v1/projects/")
    assert client["clock"].slept == []

    job = client["create_image"](project.pk, CENTOS_WEB, "web-golden")
    [waited] = client["clock"].slept
    assert 55 <= waited <= 60  # the minute's window, from the throttle's Retry-After
    assert ImageJob.objects.get().pk == job["id"]


def test_a_lost_answer_is_retried_with_the_same_key_and_makes_one_job(client, project):
    sent_keys = []
    real_request = client["session"].request

    def answer_lost_the_first_time(method, url, **kwargs):
        sent_keys.append(kwargs.get("headers", {}).get("Idempotency-Key"))
        response = real_request(method, url, **kwargs)
        if len(sent_keys) == 1:
            raise requests.ConnectionError("connection reset after the portal acted")
        return response

    client["session"].request = answer_lost_the_first_time
    job = client["create_image"](project.pk, CENTOS_WEB, "web-golden")

    assert len(sent_keys) == 2
    assert sent_keys[0] == sent_keys[1] is not None
    assert ImageJob.objects.get().pk == job["id"]
    assert len(client["clock"].slept) == 1


def test_a_refusal_is_raised_with_its_code_and_not_retried(client, project):
    with pytest.raises(RuntimeError, match=r"refused \(409 volume_busy\)"):
        client["create_image"](project.pk, RHEL_ARCHIVE, "archive-golden")
    assert client["clock"].slept == []
    assert ImageJob.objects.count() == 0
