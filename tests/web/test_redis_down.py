"""Redis stopped mid-run, seen from the pages: a cancel that commits answers as usual, with the
job's notice recorded for the engine to send once Redis is back; anything a page still cannot
do without Redis is a 503 page that says to try again, naming nothing internal."""

from __future__ import annotations

import pytest
import redis

from imaging import dispatch
from imaging.models import JobState, PendingTask
from imaging.web import dashboard
from tests.support.jobs import make_job
from tests.web.page import Page

pytestmark = pytest.mark.django_db(transaction=True)  # commits for real: on_commit runs


def test_a_cancel_while_redis_is_down_ends_the_job_and_keeps_its_notice(
    signed_in, project, bob, redis_everywhere
):
    job = make_job(project, bob)
    client = signed_in(bob)
    redis_everywhere.stop()

    response = client.post(f"/jobs/{job.pk}/cancel/")

    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    notices = PendingTask.objects.filter(name=dispatch.NOTIFY_JOB_FINISHED)
    assert [row.args for row in notices] == [[job.pk]]


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
