"""Following jobs on the oldest image API K5 can run: the simulator's `legacy` Glance (its
default), which has no time-comparison filters and never lists a `killed` image."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from imaging.engine.connections import client_for
from imaging.k5 import image
from imaging.models import EventKind, JobState
from tests.support.demo import CENTOS_WEB
from tests.support.jobs import poll, run_to_uploading, submit

UPLOAD_SECONDS = 60 + 12 * 30  # the simulator's base + per-GB time for the 30 GB volume
LIST = "/image/v2/images"


def image_list_queries(k5sim) -> list[dict[str, list[str]]]:
    return [
        parse_qs(e["query"])
        for e in k5sim.requests_log()
        if e["method"] == "GET" and e["path"] == LIST
    ]


def by_id_lookups(k5sim, image_id: str) -> list[dict]:
    return [e for e in k5sim.requests_log() if e["path"] == f"{LIST}/{image_id}"]


def settled(job) -> float:
    """Seconds from now past the job's settle window."""
    return (job.sync_watch_until - timezone.now()).total_seconds() + 1


@pytest.mark.django_db
def test_a_job_is_followed_to_succeeded_without_a_time_filter(k5sim, project, bob):
    assert k5sim.state()["glance_release"] == "legacy"
    job = run_to_uploading(project, submit(project, bob))

    poll(project)
    k5sim.advance(UPLOAD_SECONDS + 10)
    poll(project)
    k5sim.advance(200)
    job.refresh_from_db()
    assert job.state == JobState.VERIFYING
    poll(project, later=settled(job))

    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    queries = image_list_queries(k5sim)
    # The name is checked against the owner's listing, never sent as a filter.
    assert queries[0] == {"owner": [project.k5_project_id], "limit": ["1000"]}
    polls = queries[1:]  # the first asked whether the name is free, when the job was submitted
    assert len(polls) == 3
    for query in queries:
        assert not {"created_at", "updated_at", "changes-since"} & set(query)
    for query in polls:
        assert query["owner"] == [project.k5_project_id]
        assert (query["sort_key"], query["sort_dir"]) == (["created_at"], ["desc"])
    assert not by_id_lookups(k5sim, job.image_id), "every image was in the list"


@pytest.mark.django_db
def test_a_killed_upload_fails_in_plain_words_and_its_leftover_is_deleted(k5sim, project, bob):
    k5sim.add_fault(kind="upload_failure", volume_id=CENTOS_WEB)
    job = run_to_uploading(project, submit(project, bob))
    k5sim.advance(UPLOAD_SECONDS + 10)
    k5sim.clear_requests()

    poll(project)

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message.startswith("K5 could not create the image")
    assert "image_status=killed" in job.error_detail
    lookups = by_id_lookups(k5sim, job.image_id)
    assert [(e["method"], e["status"]) for e in lookups] == [("GET", 200), ("DELETE", 204)]
    deletion = job.events.get(kind=EventKind.K5_CALL, detail__method="DELETE")
    assert deletion.detail["status"] == 204 and deletion.detail["request_id"]
    assert job.events.filter(message__startswith="Deleted the leftover killed image").exists()
    assert not [i for i in k5sim.state()["images"] if i["id"] == job.image_id]


@pytest.mark.django_db
def test_a_watched_image_missing_from_one_listing_is_not_failed(k5sim, project, bob):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.add_fault(kind="list_omit", image_id=job.image_id)
    k5sim.clear_requests()

    poll(project)

    job.refresh_from_db()
    assert job.state == JobState.UPLOADING
    assert len(by_id_lookups(k5sim, job.image_id)) == 1, "looked up once, by id"

    k5sim.advance(UPLOAD_SECONDS + 10)
    k5sim.add_fault(kind="list_omit", image_id=job.image_id)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.VERIFYING


@pytest.mark.django_db
def test_an_image_missing_from_the_list_and_by_id_is_deleted(k5sim, project, bob):
    job = run_to_uploading(project, submit(project, bob))
    image.image_delete(client_for(project), job.image_id)  # someone deletes it in K5
    k5sim.clear_requests()

    poll(project)

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message == "The image was deleted in K5 before it was ready."
    assert [e["status"] for e in by_id_lookups(k5sim, job.image_id)] == [404]


@pytest.mark.django_db
def test_nothing_is_decided_when_the_lookup_by_id_fails(k5sim, project, bob):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.add_fault(kind="list_omit", image_id=job.image_id)
    k5sim.add_fault(kind="http", method="GET", path=f"^{LIST}/{job.image_id}$", status=503, times=3)

    poll(project)

    job.refresh_from_db()
    assert job.state == JobState.UPLOADING
    assert not job.events.filter(kind=EventKind.TRANSITION, to_state=JobState.FAILED).exists()
