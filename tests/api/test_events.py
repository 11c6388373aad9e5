"""GET /api/v1/events/: the audit history of what the caller may see, filterable, and as a
spreadsheet with ?format=csv."""

from __future__ import annotations

import csv
import io
import json

import pytest

from imaging.models import EventKind, JobEvent, JobState
from tests.support.demo import UBUNTU_APP
from tests.support.jobs import make_job

EVENT_FIELDS = [
    "id",
    "created_at",
    "project",
    "project_name",
    "job",
    "kind",
    "actor",
    "from_state",
    "to_state",
    "code",
    "params",
    "message",
    "detail",
]


@pytest.fixture
def history(project, other_project, bob, dana, pat):
    """Five events in the project (three jobs, a transition, an engine note), one elsewhere."""
    web = make_job(project, bob)
    app = make_job(project, dana, volume_id=UBUNTU_APP, image_name="app-golden")
    web.transition(JobState.CANCELLED, message="Cancelled by bob.", actor=bob)
    JobEvent.record(
        project_id=project.pk,
        job_id=None,
        kind=EventKind.NOTE,
        message='K5 rejected the credential, "demo-user"; no retry.',
        detail={"request_id": "req-1"},
    )
    make_job(other_project, pat, image_name="p2-image")
    return {"web": web, "app": app}


def test_it_lists_the_projects_history_newest_first(api, history, alice):
    listed = api(alice).get("/api/v1/events/").json()
    assert listed["count"] == 4
    assert [event["message"] for event in listed["results"]] == [
        'K5 rejected the credential, "demo-user"; no retry.',
        "Cancelled by bob.",
        "Requested image 'app-golden'.",
        "Requested image 'web-golden'.",
    ]
    assert list(listed["results"][0]) == EVENT_FIELDS
    cancelled = listed["results"][1]
    assert (
        cancelled["job"],
        cancelled["kind"],
        cancelled["actor"],
        cancelled["from_state"],
        cancelled["to_state"],
    ) == (history["web"].pk, "transition", "bob", "queued", "cancelled")


@pytest.mark.parametrize(
    ("params", "messages"),
    [
        ({"kind": "transition"}, ["Cancelled by bob."]),
        (
            {"kind": ["note", "transition"]},
            ['K5 rejected the credential, "demo-user"; no retry.', "Cancelled by bob."],
        ),
        ({"actor": "dana"}, ["Requested image 'app-golden'."]),
        ({"actor": "worker"}, ['K5 rejected the credential, "demo-user"; no retry.']),
    ],
)
def test_it_filters_by_kind_and_actor(api, history, alice, params, messages):
    listed = api(alice).get("/api/v1/events/", params).json()
    assert [event["message"] for event in listed["results"]] == messages


def test_it_filters_by_job(api, history, alice):
    listed = api(alice).get("/api/v1/events/", {"job": history["web"].pk}).json()
    assert [event["message"] for event in listed["results"]] == [
        "Cancelled by bob.",
        "Requested image 'web-golden'.",
    ]


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_csv_has_a_header_and_one_row_per_visible_event(api, history, alice):
    response = api(alice).get("/api/v1/events/", {"format": "csv"})
    lines = response.content.decode().splitlines()
    assert lines[0] == ",".join(EVENT_FIELDS)
    rows = read_csv(response)
    assert len(rows) == 4
    assert {row["project_name"] for row in rows} == {"demo-project-1"}
    note = rows[0]
    # Quotes and commas in a message survive; nested values are JSON text.
    assert note["message"] == 'K5 rejected the credential, "demo-user"; no retry.'
    assert json.loads(note["detail"]) == {"request_id": "req-1"}
    assert note["job"] == ""
    assert rows[1]["job"] == str(history["web"].pk)


def test_csv_takes_the_same_filters(api, history, alice):
    rows = read_csv(api(alice).get("/api/v1/events/", {"format": "csv", "actor": "bob"}))
    assert [row["message"] for row in rows] == [
        "Cancelled by bob.",
        "Requested image 'web-golden'.",
    ]


def test_csv_of_nothing_still_has_its_header(api, history, charlie):
    response = api(charlie).get("/api/v1/events/", {"format": "csv"})
    assert response.content.decode().splitlines() == [",".join(EVENT_FIELDS)]


def test_options_with_csv_describes_the_endpoint_in_one_row(api, history, alice):
    response = api(alice).request("OPTIONS", "/api/v1/events/?format=csv")
    rows = read_csv(response)
    assert len(rows) == 1
    assert rows[0]["name"] == "Event List"
