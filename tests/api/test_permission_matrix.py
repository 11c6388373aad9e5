"""Every endpoint by every kind of caller, each cell asserted: the status, and what the body
shows. Lists show the projects a caller belongs to and nothing else; what a caller may not
see answers 404 without naming it; viewers are refused actions with 403.

In each cell bob has a queued job (`{queued}`) and a failed one (`{failed}`) in the project,
and pat a job in the other project — so "another project's data" exists to leak.
"""

from __future__ import annotations

import csv
import io

import pytest

from imaging.models import ImageJob, JobState
from tests.api.client import error_of, job_body
from tests.support.demo import PROJECT_1_VOLUMES, PROJECT_2_VOLUMES, RHEL_DB, UBUNTU_APP
from tests.support.jobs import make_job

P1, P2 = "demo-project-1", "demo-project-2"
ROLES = ["anonymous", "outsider", "viewer", "requester", "member", "admin", "staff"]

# What each caller gets: (status, what the body shows). For a 2xx: the set of project names
# the body shows; for an error: its code.
NOBODY = set()
# A list: everyone signed in gets one, showing their own projects (staff: all of them).
LIST = [
    (401, "not_authenticated"),
    (200, NOBODY),
    (200, {P1}),
    (200, {P1}),
    (200, {P1}),
    (200, {P1}),
    (200, {P1, P2}),
]
# Something of the project: its members and staff read it, an outsider is told it is not there.
READ = [
    (401, "not_authenticated"),
    (404, "not_found"),
    (200, {P1}),
    (200, {P1}),
    (200, {P1}),
    (200, {P1}),
    (200, {P1}),
]
MATRIX = {
    ("GET", "/api/v1/projects/"): LIST,
    ("GET", "/api/v1/projects/{project}/"): READ,
    ("GET", "/api/v1/projects/{project}/volumes/"): READ,
    ("POST", "/api/v1/jobs/"): [
        (401, "not_authenticated"),
        (404, "not_found"),
        (403, "forbidden"),
        (201, {P1}),
        (201, {P1}),
        (201, {P1}),
        (201, {P1}),
    ],
    ("GET", "/api/v1/jobs/"): LIST,
    ("GET", "/api/v1/jobs/{queued}/"): READ,
    ("GET", "/api/v1/jobs/{queued}/events/"): READ,
    ("POST", "/api/v1/jobs/{queued}/cancel/"): [
        (401, "not_authenticated"),
        (404, "not_found"),
        (403, "forbidden"),
        (200, {P1}),
        (403, "forbidden"),
        (200, {P1}),
        (200, {P1}),
    ],
    ("POST", "/api/v1/jobs/{failed}/retry/"): [
        (401, "not_authenticated"),
        (404, "not_found"),
        (403, "forbidden"),
        (201, {P1}),
        (403, "forbidden"),
        (201, {P1}),
        (201, {P1}),
    ],
    ("GET", "/api/v1/events/"): LIST,
    ("GET", "/api/v1/events/?format=csv"): LIST,
}
CELLS = [
    (method, path, role, *expected)
    for (method, path), row in MATRIX.items()
    for role, expected in zip(ROLES, row, strict=True)
]


@pytest.fixture
def world(project, other_project, alice, bob, dana, victor, pat, charlie, stella):
    queued = make_job(project, bob, state=JobState.QUEUED)
    failed = make_job(
        project, bob, volume_id=UBUNTU_APP, image_name="app-golden", state=JobState.FAILED
    )
    theirs = make_job(
        other_project, pat, volume_id=sorted(PROJECT_2_VOLUMES)[0], image_name="secret-p2-image"
    )
    callers = {
        "anonymous": None,
        "outsider": charlie,
        "viewer": victor,
        "requester": bob,
        "member": dana,
        "admin": alice,
        "staff": stella,
    }
    return {
        "project": project,
        "queued": queued,
        "failed": failed,
        "theirs": theirs,
        "callers": callers,
    }


def projects_shown(path: str, response) -> set[str]:
    """Which projects' data a successful answer shows."""
    if "format=csv" in path:
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        return {row["project_name"] for row in rows}
    body = response.json()
    if path.endswith("/volumes/"):
        ids = {volume["id"] for volume in body}
        assert ids, "a project's volumes must be listed"
        return ({P1} if ids & PROJECT_1_VOLUMES else set()) | (
            {P2} if ids & PROJECT_2_VOLUMES else set()
        )
    if path == "/api/v1/projects/":
        return {project["name"] for project in body}
    if path.startswith("/api/v1/projects/"):
        return {body["name"]}
    if isinstance(body, dict) and "results" in body:
        return {item["project_name"] for item in body["results"]}
    return {body["project_name"]}


@pytest.mark.parametrize(
    ("method", "path", "role", "status", "shows"),
    CELLS,
    ids=[f"{m} {p} as {r}" for m, p, r, *_ in CELLS],
)
def test_it_answers_each_caller_as_the_matrix_says(api, world, method, path, role, status, shows):
    url = path.format(
        project=world["project"].pk, queued=world["queued"].pk, failed=world["failed"].pk
    )
    client = api(world["callers"][role])
    if method == "POST":
        body = job_body(world["project"], RHEL_DB, "db-golden") if url == "/api/v1/jobs/" else None
        response = client.post(url, body)
    else:
        response = client.get(url)

    assert response.status_code == status, response.content[:500]
    if status >= 400:
        error = error_of(response)
        assert error["code"] == shows
        # An error never names what the caller may not see.
        assert b"demo-project" not in response.content
        assert b"golden" not in response.content
        if status == 401:
            assert response["WWW-Authenticate"] == "Token"
    else:
        assert projects_shown(path, response) == shows
        assert b"secret-p2-image" not in response.content or role == "staff"


@pytest.mark.parametrize("role", ROLES[1:])
def test_it_states_each_members_role_in_the_project_list(api, world, role):
    listed = api(world["callers"][role]).get("/api/v1/projects/").json()
    roles = {project["name"]: project["role"] for project in listed}
    expected = {
        "outsider": {},
        "viewer": {P1: "viewer"},
        "requester": {P1: "member"},
        "member": {P1: "member"},
        "admin": {P1: "admin"},
        "staff": {P1: "admin", P2: "admin"},
    }[role]
    assert roles == expected


def test_what_an_allowed_action_did_is_what_the_answer_says(api, world):
    bob = world["callers"]["requester"]
    cancelled = api(bob).post(f"/api/v1/jobs/{world['queued'].pk}/cancel/").json()
    assert cancelled["state"] == "cancelled"
    assert ImageJob.objects.get(pk=world["queued"].pk).state == JobState.CANCELLED

    retried = api(bob).post(f"/api/v1/jobs/{world['failed'].pk}/retry/").json()
    assert retried["retry_of"] == world["failed"].pk
    assert retried["state"] == "queued"
    assert ImageJob.objects.get(pk=retried["id"]).requested_by == bob


def test_refused_actions_change_nothing(api, world):
    victor, dana = world["callers"]["viewer"], world["callers"]["member"]
    for caller in (victor, dana, world["callers"]["outsider"], None):
        api(caller).post(f"/api/v1/jobs/{world['queued'].pk}/cancel/")
        api(caller).post(f"/api/v1/jobs/{world['failed'].pk}/retry/")
    api(victor).post("/api/v1/jobs/", job_body(world["project"], RHEL_DB, "db-golden"))
    api(world["callers"]["outsider"]).post(
        "/api/v1/jobs/", job_body(world["project"], RHEL_DB, "db-golden")
    )
    assert ImageJob.objects.count() == 3
    assert ImageJob.objects.get(pk=world["queued"].pk).state == JobState.QUEUED
