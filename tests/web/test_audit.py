"""The audit history: every event the user may see, filterable, exported as CSV and JSON with
exactly what is shown."""

import csv
import io
import json

from imaging.models import EventKind, JobEvent, JobState
from tests.support.demo import P2_CENTOS, RHEL_DB, UBUNTU_APP
from tests.support.jobs import make_job
from tests.web.page import page

EXPORT_FIELDS = [
    "id",
    "created_at",
    "project",
    "job",
    "kind",
    "actor",
    "from_state",
    "to_state",
    "code",
    "message",
    "detail",
]


def history(project, other_project, bob, dana, pat):
    """bob's job is cancelled by him, dana's queued; pat works in the other project; the engine
    left a project-wide note."""
    bobs = make_job(project, bob, image_name="bob-img")
    bobs.transition(JobState.CANCELLED, message="Cancelled by bob.", actor=bob)
    danas = make_job(project, dana, volume_id=UBUNTU_APP, image_name="dana-img")
    pats = make_job(other_project, pat, volume_id=P2_CENTOS, image_name="pat-img")
    JobEvent.record(
        project_id=project.pk,
        job_id=None,
        kind=EventKind.NOTE,
        message="K5 rejected the credential of demo-user.",
    )
    return bobs, danas, pats


def shown(client, **params) -> list[tuple[str, str]]:
    view = page(client, "/audit/", **params)
    return [(row["Who"], row["What"]) for row in view.table_rows(view.main.one("table"))]


def export(client, as_, **params):
    response = client.get("/audit/", {**params, "export": as_})
    assert response.status_code == 200
    assert response.streaming, "written out while the events are read, not built in memory"
    return response


def csv_rows(response) -> list[dict]:
    text = response.getvalue().decode("utf-8")
    assert text.startswith("\ufeff"), "a BOM, so spreadsheet programs read Japanese as UTF-8"
    reader = csv.DictReader(io.StringIO(text[1:]))
    assert reader.fieldnames == EXPORT_FIELDS
    return list(reader)


def test_bob_sees_every_event_of_his_project_newest_first_and_none_of_others(
    signed_in, project, other_project, bob, dana, pat
):
    history(project, other_project, bob, dana, pat)
    assert shown(signed_in(bob)) == [
        ("worker", "K5 rejected the credential of demo-user."),
        ("dana", "Requested image 'dana-img'."),
        ("bob", "Cancelled by bob."),
        ("bob", "Requested image 'bob-img'."),
    ]


def test_the_history_links_each_event_to_its_job(signed_in, project, other_project, bob, dana, pat):
    bobs, _danas, _pats = history(project, other_project, bob, dana, pat)
    view = page(signed_in(bob), "/audit/", actor="bob")
    links = {a.attrs["href"] for a in view.main.one("table").all("a")}
    assert links == {f"/jobs/{bobs.pk}/"}


def test_stella_on_the_staff_sees_every_project_and_charlie_nothing(
    signed_in, project, other_project, bob, dana, pat, stella, charlie
):
    history(project, other_project, bob, dana, pat)
    assert ("pat", "Requested image 'pat-img'.") in shown(signed_in(stella))
    assert len(shown(signed_in(stella))) == 5
    assert shown(signed_in(charlie)) == []
    assert "No event matches." in page(signed_in(charlie), "/audit/").main


def test_it_filters_by_job_kind_actor_and_project(
    signed_in, project, other_project, bob, dana, pat, stella
):
    bobs, _danas, _pats = history(project, other_project, bob, dana, pat)
    client = signed_in(stella)
    assert shown(client, job=bobs.pk) == [
        ("bob", "Cancelled by bob."),
        ("bob", "Requested image 'bob-img'."),
    ]
    assert shown(client, kind="transition") == [("bob", "Cancelled by bob.")]
    assert shown(client, actor="dana") == [("dana", "Requested image 'dana-img'.")]
    assert shown(client, project=other_project.pk) == [("pat", "Requested image 'pat-img'.")]
    assert shown(signed_in(bob), project=other_project.pk) == [], "not pat's project for bob"


def test_the_filter_form_keeps_the_choice_and_labels_every_control(signed_in, project, bob):
    form = page(signed_in(bob), "/audit/", kind="action", actor="bob").main.one(
        "form", role="search"
    )
    kind = form.one("select", name="kind")
    assert [o.attrs["value"] for o in kind.all("option", selected=True)] == ["action"]
    assert form.one("input", name="actor").attrs["value"] == "bob"
    for control in form.all("select") + form.all("input"):
        assert form.has("label", for_=control.attrs["id"]), control.attrs["name"]


def test_the_csv_export_holds_what_the_page_shows(
    signed_in, project, other_project, bob, dana, pat
):
    bobs, _danas, _pats = history(project, other_project, bob, dana, pat)
    client = signed_in(bob)

    response = export(client, "csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="k5-audit-')
    assert response["Content-Disposition"].endswith('.csv"')
    rows = csv_rows(response)
    assert [(r["actor"], r["message"]) for r in rows] == shown(client)
    cancelled = rows[2]
    assert (
        cancelled["project"],
        cancelled["job"],
        cancelled["kind"],
        cancelled["from_state"],
        cancelled["to_state"],
    ) == ("demo-project-1", str(bobs.pk), "transition", "queued", "cancelled")
    assert not any("pat-img" in cell for row in rows for cell in row.values())


def test_the_json_export_holds_what_the_page_shows(
    signed_in, project, other_project, bob, dana, pat
):
    history(project, other_project, bob, dana, pat)
    client = signed_in(bob)

    response = export(client, "json", actor="bob")

    assert response["Content-Type"] == "application/json"
    events = json.loads(response.getvalue())
    assert [(e["actor"], e["message"]) for e in events] == shown(client, actor="bob")
    assert set(events[0]) == set(EXPORT_FIELDS)
    assert events[0]["detail"] == {} and events[0]["to_state"] == "cancelled"


def test_the_export_links_export_the_filtered_events(
    signed_in, project, other_project, bob, dana, pat
):
    history(project, other_project, bob, dana, pat)
    client = signed_in(bob)
    view = page(client, "/audit/", actor="dana")
    links = {a.text: a.attrs["href"] for a in view.main.all("a") if a.text in ("CSV", "JSON")}
    assert links == {"CSV": "?actor=dana&export=csv", "JSON": "?actor=dana&export=json"}
    rows = csv_rows(client.get("/audit/" + links["CSV"]))
    assert [r["actor"] for r in rows] == ["dana"]


def test_charlies_export_is_empty(signed_in, project, other_project, bob, dana, pat, charlie):
    history(project, other_project, bob, dana, pat)
    client = signed_in(charlie)
    assert csv_rows(export(client, "csv")) == []
    assert json.loads(export(client, "json").getvalue()) == []


def test_japanese_text_survives_the_export(signed_in, project, bob):
    make_job(project, bob, volume_id=RHEL_DB, image_name="本番-db")
    client = signed_in(bob)
    assert csv_rows(export(client, "csv"))[0]["message"] == "Requested image '本番-db'."
    assert json.loads(export(client, "json").getvalue())[0]["message"] == (
        "Requested image '本番-db'."
    )


def test_an_export_longer_than_one_read_holds_every_event_once_newest_first(
    signed_in, project, bob
):
    JobEvent.objects.bulk_create(
        JobEvent(project=project, kind=EventKind.NOTE, actor_name="worker", message=f"note {n}")
        for n in range(2_500)  # the export reads 1,000 events at a time
    )
    client = signed_in(bob)
    newest_first = sorted(JobEvent.objects.values_list("id", flat=True), reverse=True)

    assert [int(row["id"]) for row in csv_rows(export(client, "csv"))] == newest_first
    assert [e["id"] for e in json.loads(export(client, "json").getvalue())] == newest_first


def test_the_json_export_reads_as_it_did_when_it_was_written_at_once(signed_in, project, bob):
    JobEvent.record(
        project_id=project.pk,
        job_id=None,
        kind=EventKind.NOTE,
        message='K5 said:\n"zone" 本番',
        detail={"zones": ["jp-east-1a", "jp-east-1b"], "reason": {"code": 409}},
    )
    make_job(project, bob, image_name="second")

    text = export(signed_in(bob), "json").getvalue().decode()

    assert text == json.dumps(json.loads(text), ensure_ascii=False, indent=1)
    assert text.startswith('[\n {\n  "id": ')


def test_it_shows_100_events_a_page(signed_in, project, bob):
    for n in range(130):
        JobEvent.record(
            project_id=project.pk, job_id=None, kind=EventKind.NOTE, message=f"note {n:03d}"
        )
    client = signed_in(bob)
    first = page(client, "/audit/", kind="note")
    assert len(first.table_rows(first.main.one("table"))) == 100
    assert "Page 1 of 2" in first.main.one("nav", cls="pages")
    assert first.main.one("a", rel="next").attrs["href"] == "?kind=note&page=2"
    second = page(client, "/audit/", kind="note", page="2")
    assert [row["What"] for row in second.table_rows(second.main.one("table"))] == [
        f"note {n:03d}" for n in range(29, -1, -1)
    ]
    assert len(csv_rows(export(client, "csv", kind="note"))) == 130, "the export is not paged"


def test_an_export_with_a_mistyped_filter_is_refused_not_widened(client, bob):
    client.force_login(bob)
    response = client.get("/audit/", {"export": "csv", "created_after": "yesterday"})
    assert response.status_code == 400
    assert "Not exported: created_after" in response.content.decode()
