"""The dashboard: my projects with their upload budget, my running jobs, my recent results and
a 30-day chart of jobs by outcome."""

from datetime import timedelta

from django.utils import timezone

from imaging.models import JobState
from tests.support.demo import RHEL_DB, UBUNTU_APP, WIN_AD
from tests.support.jobs import make_job, spend_budget
from tests.web.page import page


def projects_table(dashboard):
    return dashboard.table_rows(dashboard.main.one("table"))


def test_it_lists_bobs_projects_with_his_role_and_a_free_budget(signed_in, bob, other_project):
    dashboard = page(signed_in(bob), "/")
    rows = projects_table(dashboard)
    assert [row["Project"] for row in rows] == ["demo-project-1"]
    assert rows[0]["Your role"] == "member"
    assert rows[0]["Upload budget"] == "0 of 4 uploads used this hour"
    assert dashboard.main.one("a", text="demo-project-1").attrs["href"] == (
        f"/projects/{bob.k5_memberships.get().project_id}/volumes/"
    )


def test_it_tells_bob_when_the_budget_is_spent_and_when_the_next_slot_opens(
    signed_in, project, bob
):
    first = spend_budget(project, bob)
    next_slot = timezone.localtime(first + timedelta(hours=1)).strftime("%H:%M")

    budget = projects_table(page(signed_in(bob), "/"))[0]["Upload budget"]

    assert budget == f"4 of 4 uploads used this hour; next slot {next_slot}"


def test_it_shows_bobs_running_jobs_with_progress_and_his_recent_results_only(
    signed_in, project, bob, dana
):
    uploading = make_job(
        project,
        bob,
        image_name="web-uploading",
        state=JobState.UPLOADING,
        submitted_at=timezone.now() - timedelta(seconds=240),
    )
    make_job(project, bob, volume_id=UBUNTU_APP, image_name="app-done", state=JobState.SUCCEEDED)
    make_job(project, dana, volume_id=RHEL_DB, image_name="danas-job", state=JobState.QUEUED)

    main = page(signed_in(bob), "/").main
    running = main.one("section", aria_labelledby="running-heading")
    recent = main.one("section", aria_labelledby="recent-heading")

    assert "web-uploading" in running and "Uploading" in running
    progress = running.one("progress")
    assert 0.4 < float(progress.attrs["value"]) < 0.5  # 240 s of 480 s expected, 90 % share
    assert running.one("a").attrs["href"] == f"/jobs/{uploading.pk}/"
    assert "app-done" in recent and "Succeeded" in recent
    assert "danas-job" not in main, "another member's job is not on bob's dashboard"


def test_it_draws_the_outcomes_of_the_last_30_days_with_the_numbers_in_words(
    signed_in, project, bob, dana
):
    make_job(project, bob, image_name="ok-1", state=JobState.SUCCEEDED)
    make_job(project, dana, volume_id=UBUNTU_APP, image_name="ok-2", state=JobState.SUCCEEDED)
    make_job(project, bob, volume_id=RHEL_DB, image_name="bad", state=JobState.FAILED)
    make_job(
        project,
        bob,
        volume_id=WIN_AD,
        image_name="old",
        state=JobState.SUCCEEDED,
        finished_at=timezone.now() - timedelta(days=40),
    )

    chart = page(signed_in(bob), "/").main.one("figure", cls="chart")

    assert chart.one("title", id_="chart-summary").text == ("3 finished jobs in the last 30 days")
    assert "Succeeded: 2" in chart and "Failed: 1" in chart and "Sync failed: 0" in chart
    bars = chart.all("rect")
    assert sorted(bar.one("title").text.split(": ")[1] for bar in bars) == [
        "1 Failed",
        "2 Succeeded",
    ]


def test_an_empty_month_says_so_instead_of_drawing_an_empty_chart(signed_in, project, bob):
    chart = page(signed_in(bob), "/").main.one("figure", cls="chart")
    assert not chart.has("svg")
    assert "0 finished jobs in the last 30 days." in chart


def test_a_pacing_window_other_than_an_hour_is_named_in_minutes_or_seconds(signed_in, project, bob):
    client = signed_in(bob)
    project.upload_window_seconds = 1800
    project.save()
    assert projects_table(page(client, "/"))[0]["Upload budget"] == (
        "0 of 4 uploads used in the last 30 minutes"
    )
    project.upload_window_seconds = 90
    project.save()
    assert projects_table(page(client, "/"))[0]["Upload budget"] == (
        "0 of 4 uploads used in the last 90 seconds"
    )


def test_charlie_without_a_project_is_told_to_ask_for_access(signed_in, charlie, project):
    main = page(signed_in(charlie), "/").main
    assert "You are not a member of any K5 project yet" in main
    assert "demo-project-1" not in main


def test_stella_on_the_staff_sees_every_project_as_admin(signed_in, stella, project, other_project):
    rows = projects_table(page(signed_in(stella), "/"))
    assert [(row["Project"], row["Your role"]) for row in rows] == [
        ("demo-project-1", "admin"),
        ("demo-project-2", "admin"),
    ]


def test_it_warns_when_k5_rejected_the_projects_credential(signed_in, project, bob):
    project.credentials_invalid_at = timezone.now()
    project.save()
    row = projects_table(page(signed_in(bob), "/"))[0]
    assert "Credential rejected by K5: jobs wait until an admin updates it" in row["Project"]


def test_anonymous_visitors_are_sent_to_sign_in(signed_in, db):
    response = signed_in(None).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
