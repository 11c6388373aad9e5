"""The jobs list: every job the user may see, filtered by project, state, requester and date,
50 to a page."""

from datetime import datetime, timedelta

from django.utils import timezone

from imaging.models import ImageJob, JobState
from tests.support.demo import CENTOS_WEB, P2_CENTOS, RHEL_DB, UBUNTU_APP
from tests.support.jobs import make_job
from tests.web.page import page


def listed(client, **params) -> list[str]:
    """The image names in the list, top to bottom."""
    view = page(client, "/jobs/", **params)
    rows = view.table_rows(view.main.one("table"))
    return [row["Image"] for row in rows]


def some_jobs(project, other_project, bob, dana, pat):
    make_job(project, bob, volume_id=CENTOS_WEB, image_name="bob-done", state=JobState.SUCCEEDED)
    make_job(project, bob, volume_id=UBUNTU_APP, image_name="bob-failed", state=JobState.FAILED)
    make_job(project, dana, volume_id=RHEL_DB, image_name="dana-queued")
    make_job(other_project, pat, volume_id=P2_CENTOS, image_name="pat-job")


def test_it_lists_the_jobs_of_bobs_projects_newest_first(
    signed_in, project, other_project, bob, dana, pat
):
    some_jobs(project, other_project, bob, dana, pat)
    view = page(signed_in(bob), "/jobs/")
    rows = view.table_rows(view.main.one("table"))
    assert [row["Image"] for row in rows] == ["dana-queued", "bob-failed", "bob-done"]
    assert (rows[0]["Project"], rows[0]["State"], rows[0]["Requested by"]) == (
        "demo-project-1",
        "Queued",
        "dana",
    )
    assert view.main.one("a", text="bob-done").attrs["href"].startswith("/jobs/")


def test_victor_the_viewer_sees_the_projects_jobs_too(
    signed_in, project, other_project, bob, dana, pat, victor
):
    some_jobs(project, other_project, bob, dana, pat)
    assert listed(signed_in(victor)) == ["dana-queued", "bob-failed", "bob-done"]


def test_charlie_sees_no_job_and_stella_sees_them_all(
    signed_in, project, other_project, bob, dana, pat, charlie, stella
):
    some_jobs(project, other_project, bob, dana, pat)
    assert "No job matches." in page(signed_in(charlie), "/jobs/").main
    assert listed(signed_in(stella)) == ["pat-job", "dana-queued", "bob-failed", "bob-done"]


def test_it_filters_by_project_state_and_requester(
    signed_in, project, other_project, bob, dana, pat, stella
):
    some_jobs(project, other_project, bob, dana, pat)
    client = signed_in(stella)
    assert listed(client, project=other_project.pk) == ["pat-job"]
    assert listed(client, state=["failed", "queued"]) == ["pat-job", "dana-queued", "bob-failed"]
    assert listed(client, requested_by="bob") == ["bob-failed", "bob-done"]
    assert listed(client, project=project.pk, state="queued") == ["dana-queued"]


def test_a_project_bob_cannot_see_filters_to_nothing(
    signed_in, project, other_project, bob, dana, pat
):
    some_jobs(project, other_project, bob, dana, pat)
    assert listed(signed_in(bob), project=other_project.pk) == []


def test_it_filters_by_the_dates_the_date_fields_send(signed_in, project, bob):
    for day in (1, 10, 20):
        make_job(
            project,
            bob,
            volume_id=f"vol-{day}",
            image_name=f"day-{day}",
            state=JobState.SUCCEEDED,
            created_at=timezone.make_aware(datetime(2026, 3, day, 12, 0)),
        )
    client = signed_in(bob)
    assert listed(client, created_after="2026-03-10") == ["day-20", "day-10"]
    assert listed(client, created_before="2026-03-10") == ["day-1"]
    assert listed(client, created_after="2026-03-02", created_before="2026-03-15") == ["day-10"]


def test_the_filter_form_shows_what_was_chosen(signed_in, project, bob):
    form = page(
        signed_in(bob),
        "/jobs/",
        project=project.pk,
        state=["failed", "queued"],
        requested_by="bob",
        created_after="2026-03-02",
    ).main.one("form", role="search")
    chosen = {
        select.attrs["name"]: [o.attrs["value"] for o in select.all("option", selected=True)]
        for select in form.all("select")
    }
    assert chosen == {"project": [str(project.pk)], "state": ["queued", "failed"]}
    assert form.one("input", name="requested_by").attrs["value"] == "bob"
    assert form.one("input", name="created_after").attrs["value"] == "2026-03-02"
    for control in form.all("select") + form.all("input"):
        assert form.has("label", for_=control.attrs["id"]), control.attrs["name"]


def test_it_shows_50_jobs_a_page_and_keeps_the_filter_across_pages(signed_in, project, bob):
    now = timezone.now()
    ImageJob.objects.bulk_create(
        ImageJob(
            project=project,
            volume_id=f"vol-{n}",
            image_name=f"img-{n:03d}",
            state=JobState.SUCCEEDED,
            requested_by=bob,
            requested_by_name="bob",
            preparation_confirmed="linux-network-settings-removed",
            created_at=now - timedelta(minutes=n),
        )
        for n in range(120)
    )
    client = signed_in(bob)

    first = page(client, "/jobs/", requested_by="bob")
    names = [row["Image"] for row in first.table_rows(first.main.one("table"))]
    assert names == [f"img-{n:03d}" for n in range(50)]
    pages = first.main.one("nav", cls="pages")
    assert "Page 1 of 3" in pages
    assert not pages.has("a", rel="prev")
    next_link = pages.one("a", rel="next").attrs["href"]
    assert next_link == "?requested_by=bob&page=2"

    last = page(client, "/jobs/", requested_by="bob", page="3")
    assert [row["Image"] for row in last.table_rows(last.main.one("table"))] == [
        f"img-{n:03d}" for n in range(100, 120)
    ]
    assert "Page 3 of 3" in last.main.one("nav", cls="pages")


def test_a_page_number_out_of_range_shows_the_last_page(signed_in, project, bob):
    make_job(project, bob, image_name="only-one")
    assert listed(signed_in(bob), page="9") == ["only-one"]
    assert listed(signed_in(bob), page="x") == ["only-one"]


def test_a_running_job_shows_its_progress_in_the_list(signed_in, project, bob):
    make_job(project, bob, state=JobState.UPLOADING)
    view = page(signed_in(bob), "/jobs/")
    assert view.main.one("table").has("progress")


def test_a_date_that_is_not_a_date_is_explained_not_a_crash(signed_in, project, bob):
    make_job(project, bob, image_name="kept")
    view = page(signed_in(bob), "/jobs/", created_after="yesterday")
    assert view.main.one("div", cls="errors").text
