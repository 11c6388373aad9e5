"""The job page: state, progress, ids, the per-zone grid, the error in plain words with K5's
detail behind a toggle, the history, the actions allowed now — and the fragment the page
refreshes itself from while the job runs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.models import EventKind, JobState
from tests.support.demo import ZONE_B_SERVER
from tests.support.jobs import make_job
from tests.web.page import page


def job_page(client, job, **params):
    return page(client, f"/jobs/{job.pk}/", **params)


def zone_grid(job_view):
    table = job_view.main.one("table", cls="zones")
    return {row["Zone"]: row for row in job_view.table_rows(table)}


def actions(job_view) -> list[str]:
    section = job_view.main.all("section", aria_labelledby="actions-heading")
    return [button.text for button in section[0].all("button")] if section else []


def test_it_shows_a_running_job_with_its_progress_ids_and_zones(signed_in, project, bob):
    job = make_job(
        project,
        bob,
        state=JobState.UPLOADING,
        image_id="img-123",
        submitted_at=timezone.now() - timedelta(seconds=120),
    )
    view = job_page(signed_in(bob), job)

    heading = view.main.one("h1")
    assert heading.text == "web-golden Uploading"
    assert heading.one("span", cls="state").classes == {"state", "state-uploading"}
    progress = view.main.one("progress", id_="job-progress")
    assert 0.2 < float(progress.attrs["value"]) < 0.25  # 120 s of 480 s: 25 % of the 90 %
    assert "s elapsed of about 480 s expected" in view.main
    copies = [b.attrs["data-copy"] for b in view.main.all("button", cls="copy-button")]
    assert copies == [job.volume_id, "img-123"]
    labels = [b.attrs["aria-label"] for b in view.main.all("button", cls="copy-button")]
    assert labels == ["Copy volume ID", "Copy image ID"]  # not two buttons both named "Copy"
    assert zone_grid(view) == {
        "jp-east-1a": {
            "Zone": "jp-east-1a",
            "Role": "Source zone",
            "Status": "Pending",
            "Checked": "—",
        },
        "jp-east-1b": {
            "Zone": "jp-east-1b",
            "Role": "Replica",
            "Status": "Pending",
            "Checked": "—",
        },
    }


def test_a_running_job_page_refreshes_itself_from_the_fragment(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.VERIFYING)
    view = job_page(signed_in(bob), job)
    live = view.main.one("div", id_="job-live")
    assert live.attrs["data-refresh"] == f"/jobs/{job.pk}/?partial=1"
    assert view.has("script", src="/static/js/live.js")
    # A screen reader hears the state when it changes, not the whole page every 5 s.
    assert "aria-live" not in live.attrs
    announcer = view.main.one(id_="job-announce")
    assert announcer.attrs["role"] == "status" and announcer.attrs["aria-live"] == "polite"


def test_a_finished_job_page_stops_refreshing(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.SUCCEEDED)
    live = job_page(signed_in(bob), job).main.one("div", id_="job-live")
    assert "data-refresh" not in live.attrs


def test_the_fragment_is_the_live_part_alone_and_follows_the_job(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.UPLOADING)
    client = signed_in(bob)
    fragment = client.get(f"/jobs/{job.pk}/", {"partial": "1"})
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in html and "site-header" not in html
    assert 'class="state state-uploading"' in html

    job.transition(JobState.VERIFYING, message="The image is active.")
    again = client.get(f"/jobs/{job.pk}/", {"partial": "1"}).content.decode()
    assert 'class="state state-verifying"' in again


def test_a_succeeded_job_shows_every_zone_synced(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.SUCCEEDED, image_id="img-9")
    view = job_page(signed_in(bob), job)
    assert view.main.one("h1").text == "web-golden Succeeded"
    assert {zone: row["Status"] for zone, row in zone_grid(view).items()} == {
        "jp-east-1a": "Synced",
        "jp-east-1b": "Synced",
    }
    assert float(view.main.one("progress").attrs["value"]) == 1


def test_a_sync_failure_names_the_failed_zone_with_its_reason_and_offers_the_remedy(
    signed_in, project, bob
):
    job = make_job(project, bob, state=JobState.SYNC_FAILED)
    view = job_page(signed_in(bob), job)

    grid = zone_grid(view)
    assert grid["jp-east-1a"]["Status"] == "Synced"
    assert grid["jp-east-1b"]["Status"].startswith("Failed")
    assert f"synchronize image the server({ZONE_B_SERVER})" in grid["jp-east-1b"]["Status"]
    problem = view.main.one("section", cls="bad")
    assert problem.one("p").text == (
        "The image is not usable: registering it to availability zone jp-east-1b failed."
    )
    assert actions(view) == ["Delete the image and create it again"]


def test_the_raw_k5_detail_is_behind_a_toggle(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.FAILED)
    problem = job_page(signed_in(bob), job).main.one("section", cls="bad")
    assert problem.one("h2").text == "What went wrong"
    assert problem.one("p").text == "K5 could not create the image: it ended killed."
    toggle = problem.one("details")
    assert "open" not in toggle.attrs
    assert toggle.one("summary").text == "K5's detail"
    assert toggle.one("pre").text == "volume_status=available, image_status=killed"


def test_a_job_without_error_shows_no_error_box(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.UPLOADING)
    assert not job_page(signed_in(bob), job).main.has("section", cls="bad")


def test_the_timeline_and_the_history_tell_what_happened_and_who_did_it(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.QUEUED)
    job.transition(JobState.SUBMITTING, message="Upload slot taken; sending to K5.")
    job.record(EventKind.NOTE, "K5 answered slowly.")
    view = job_page(signed_in(bob), job)

    timeline = [li.text for li in view.main.one("ol", cls="timeline").all("li")]
    assert timeline[0].endswith("requested — bob")
    assert timeline[1].endswith("Submitting — Upload slot taken; sending to K5.")
    history = view.table_rows(view.main.one("table", cls="events"))
    assert [(row["Who"], row["What"]) for row in history] == [
        ("bob", "Requested image 'web-golden'."),
        ("worker", "Upload slot taken; sending to K5."),
        ("worker", "K5 answered slowly."),
    ]


@pytest.mark.parametrize(
    ("state", "buttons"),
    [
        (JobState.QUEUED, ["Cancel"]),
        (JobState.FAILED, ["Retry"]),
        (JobState.SYNC_FAILED, ["Delete the image and create it again"]),
        (JobState.UPLOADING, []),
        (JobState.SUCCEEDED, []),
        (JobState.CANCELLED, []),
    ],
)
def test_bob_is_offered_only_the_actions_his_job_allows_now(
    signed_in, project, bob, state, buttons
):
    view = job_page(signed_in(bob), make_job(project, bob, state=state))
    assert actions(view) == buttons
    if not buttons:
        assert "No action is possible in this state." in view.main


def test_a_job_already_retried_links_to_its_retry_and_offers_no_second_one(signed_in, project, bob):
    failed = make_job(project, bob, state=JobState.FAILED)
    retry = make_job(project, bob, image_name="web-golden-2", retry_of=failed)
    client = signed_in(bob)
    view = job_page(client, failed)
    assert actions(view) == []
    assert view.main.one("a", text=f"job {retry.pk}").attrs["href"] == f"/jobs/{retry.pk}/"
    assert (
        job_page(client, retry).main.one("a", text=f"job {failed.pk}").attrs["href"]
        == f"/jobs/{failed.pk}/"
    )


@pytest.mark.parametrize(
    ("who", "sees_actions"),
    [
        ("bob", True),
        ("alice", True),
        ("stella", True),
        ("dana", False),
        ("victor", False),
    ],
)
def test_who_is_offered_the_actions_of_bobs_job(
    signed_in, project, request, bob, who, sees_actions
):
    job = make_job(project, bob, state=JobState.QUEUED)
    view = job_page(signed_in(request.getfixturevalue(who)), job)
    assert actions(view) == (["Cancel"] if sees_actions else [])
    assert "web-golden" in view.main.one("h1"), "everyone in the project sees the job"


def test_a_queued_job_shows_its_place_in_the_queue(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.QUEUED)
    status = [p.text for p in job_page(signed_in(bob), job).main.all("p", role="status")]
    start = timezone.localtime().strftime("%H:%M")
    assert f"Queue position 1; estimated start {start}." in status


def test_a_waiting_reason_is_shown(signed_in, project, bob):
    job = make_job(
        project, bob, state=JobState.QUEUED, waiting_reason="K5 asked us to wait 30 s (rate limit)."
    )
    assert "K5 asked us to wait 30 s (rate limit)." in job_page(signed_in(bob), job).main


def test_a_windows_job_keeps_the_after_image_checklist_that_bob_ticks_off(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.SUCCEEDED, os_family="windows")
    client = signed_in(bob)
    section = job_page(client, job).main.one("section", aria_labelledby="after-heading")
    assert [b.text for b in section.all("button")] == [
        "Mark done: Restored the server's snapshot",
        "Mark done: Restarted the server",
    ]

    client.post(f"/jobs/{job.pk}/after-task/", {"task": "restore_snapshot"})

    items = [
        li.text
        for li in job_page(client, job)
        .main.one("section", aria_labelledby="after-heading")
        .all("li")
    ]
    assert items[0].startswith("✔ Restored the server's snapshot — bob, ")
    assert items[1] == "Mark done: Restarted the server"


def test_the_after_image_checklist_waits_until_the_image_is_ready(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.VERIFYING, os_family="windows")
    assert not job_page(signed_in(bob), job).main.has("section", aria_labelledby="after-heading")


def test_a_linux_job_has_no_after_image_checklist(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.SUCCEEDED)
    assert not job_page(signed_in(bob), job).main.has("section", aria_labelledby="after-heading")


def test_victor_sees_the_after_image_checklist_but_cannot_tick_it(signed_in, project, bob, victor):
    job = make_job(project, bob, state=JobState.SUCCEEDED, os_family="windows")
    section = job_page(signed_in(victor), job).main.one("section", aria_labelledby="after-heading")
    assert not section.has("button")
    assert [li.text for li in section.all("li")] == [
        "☐ Restored the server's snapshot",
        "☐ Restarted the server",
    ]
