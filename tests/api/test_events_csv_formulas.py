"""GET /api/v1/events/?format=csv is opened in spreadsheets too: a cell that would run there as
a formula (`=`, `+`, `-`, `@`, tab, carriage return first) comes out as text, with a leading
`'` — the same function as the audit page's export (imaging.csv_export)."""

import csv
import io

import pytest

from imaging.models import EventKind, JobEvent
from tests.support.cast import make_user

FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"]
NAMES = ["equals", "plus", "minus", "at", "tab", "carriage-return"]


def csv_rows(tool) -> list[dict]:
    response = tool.get("/api/v1/events/", {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("first", FORMULA_STARTS, ids=NAMES)
def test_a_message_that_starts_like_a_formula_comes_out_as_text(api, project, alice, first):
    formula = f"{first}cmd|' /C calc'!A0"
    JobEvent.record(project_id=project.pk, job_id=None, kind=EventKind.NOTE, message=formula)

    [row] = csv_rows(api(alice))

    assert row["message"] == "'" + formula


@pytest.mark.parametrize("name", ["@evil", "-2+3", "+cmd"])
def test_a_user_name_that_starts_like_a_formula_comes_out_as_text(api, project, alice, name):
    JobEvent.record(
        project_id=project.pk,
        job_id=None,
        kind=EventKind.NOTE,
        message="Note.",
        actor=make_user(name),
    )

    [row] = csv_rows(api(alice))

    assert row["actor"] == "'" + name


def test_numbers_and_plain_text_come_out_unchanged(api, project, alice):
    event = JobEvent.record(
        project_id=project.pk,
        job_id=None,
        kind=EventKind.NOTE,
        message="K5 said: a = b - c",
        detail={"reason": "=inside JSON is no formula"},
    )

    [row] = csv_rows(api(alice))

    assert row["id"] == str(event.pk)
    assert row["project"] == str(project.pk)
    assert row["project_name"] == "demo-project-1"
    assert row["message"] == "K5 said: a = b - c"
    assert row["detail"] == '{"reason": "=inside JSON is no formula"}'


def test_the_json_answer_is_not_touched(api, project, alice):
    JobEvent.record(project_id=project.pk, job_id=None, kind=EventKind.NOTE, message="=1+1")
    listed = api(alice).get("/api/v1/events/").json()
    assert listed["results"][0]["message"] == "=1+1"
