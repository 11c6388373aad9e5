"""The list endpoints cost the same number of queries for 30 jobs as for 3: a busy project
must not make every poll of a tool slower."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.models import (
    Automation,
    ImageJob,
    JobEvent,
    JobState,
    K5Project,
    SyncStatus,
    ZoneSyncResult,
)
from tests.support.jobs import make_job

STATES = [
    JobState.QUEUED,
    JobState.PREPARING,
    JobState.UPLOADING,
    JobState.AWAITING_SHUTDOWN,
    JobState.FINISHING,
    JobState.VERIFYING,
    JobState.SUCCEEDED,
    JobState.FAILED,
    JobState.SYNC_FAILED,
    JobState.CANCELLED,
]
LISTS = ["/api/v1/jobs/", "/api/v1/events/", "/api/v1/events/?format=csv", "/api/v1/projects/"]


@pytest.fixture(autouse=True)
def memory_cache(settings):
    """The counts are the lists' own queries. Without Redis the cache (throttle and token
    lockout counters) is a database table, a few queries per request whatever the list."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def add_jobs(projects, user, count: int) -> None:
    """Jobs in every state, in both projects (the first two queued, one in each: the queue
    forecast costs queries per project with queued jobs, not per job; the third automated:
    its steps cost a query per page, not per job), some retried, some with a failed zone."""
    start = ImageJob.objects.count()
    for n in range(start, start + count):
        project = projects[n % 2]
        state = STATES[(n // 2) % len(STATES)]
        automation = (
            Automation.SYSPREP_ROUND_TRIP
            if state in (JobState.PREPARING, JobState.AWAITING_SHUTDOWN, JobState.FINISHING)
            else Automation.STOP_START
            if state == JobState.SUCCEEDED
            else Automation.NONE
        )
        job = make_job(
            project,
            user,
            volume_id=f"volume-{n}",
            image_name=f"image-{n}",
            state=state,
            automation=automation,
        )
        if state == JobState.SYNC_FAILED:
            ZoneSyncResult.objects.filter(job=job, role="replica").update(
                status=SyncStatus.FAILED, reason="timeout"
            )
            make_job(
                project,
                user,
                volume_id=f"volume-{n}",
                image_name=f"image-{n}-2",
                state=JobState.FAILED,
                retry_of=job,
            )


def elsewhere(n: int) -> K5Project:
    """Another project, which staff see too (never signed in to K5 here)."""
    return K5Project.objects.create(
        name=f"elsewhere-{n}",
        region="jp-east-1",
        contract="c",
        identity_url="http://k5.invalid/v3",
        k5_project_id=f"p{n}",
        username="u",
        password_encrypted="-",
    )


def queries_for(tool, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = tool.get(path)
    assert response.status_code == 200, response.content[:300]
    return len(queries)


@pytest.mark.parametrize("path", LISTS)
def test_a_list_costs_the_same_for_30_jobs_as_for_3(api, project, other_project, stella, path):
    tool = api(stella)  # staff: sees both projects
    tool.get(path)  # the token's first use writes last_used once

    add_jobs([project, other_project], stella, 3)
    few = queries_for(tool, path)
    add_jobs([project, other_project], stella, 27)
    assert ImageJob.objects.count() >= 30
    assert JobEvent.objects.count() >= 30
    many = queries_for(tool, path)

    assert many == few
    assert few <= 12


def test_the_list_really_shows_all_those_jobs(api, project, other_project, stella):
    add_jobs([project, other_project], stella, 30)
    listed = api(stella).get("/api/v1/jobs/").json()
    assert listed["count"] == ImageJob.objects.count()
    assert len(listed["results"]) == listed["count"]
    assert any(job["queue_position"] for job in listed["results"])
    assert any(zone["status"] == "failed" for job in listed["results"] for zone in job["zones"])
    assert any(job["steps"] for job in listed["results"])


def test_one_project_costs_the_same_however_many_the_caller_sees(api, project, stella):
    """Staff see every project: one project's answer must not pay for all of them."""
    tool = api(stella)
    url = f"/api/v1/projects/{project.pk}/"
    tool.get(url)  # the token's first use writes last_used once
    few = queries_for(tool, url)
    for n in range(10):
        elsewhere(n)
    assert queries_for(tool, url) == few


def test_the_jobs_list_costs_the_same_for_queues_in_one_project_as_in_five(api, project, stella):
    """Each project with a queued job on the page has its own queue and window: they are read
    together, not one project after another."""
    tool = api(stella)
    tool.get("/api/v1/jobs/")  # the token's first use writes last_used once
    make_job(project, stella, volume_id="volume-0", image_name="image-0")
    one = queries_for(tool, "/api/v1/jobs/")
    for n in range(4):
        make_job(elsewhere(n), stella, volume_id=f"volume-{n}", image_name=f"image-{n}")
    listed = tool.get("/api/v1/jobs/").json()["results"]
    assert [job["queue_position"] for job in listed] == [1] * 5
    assert queries_for(tool, "/api/v1/jobs/") == one
