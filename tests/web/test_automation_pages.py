"""Automation on the pages: the create-image form offers what fits the volume and says what
the portal will do in K5; the job page shows the steps as a live checklist, the Sysprep
instructions while the portal waits for the shutdown, and what a person may do about a step
K5 refused. (The engine running the steps is tested in tests/engine/.)"""

from __future__ import annotations

import pytest

from imaging.engine.automation import PLANS
from imaging.models import Automation, ImageJob, JobState, StepName, StepState
from tests.support.demo import CENTOS_BATCH, CENTOS_WEB, UBUNTU_FRONT, WIN_FILE
from tests.support.jobs import make_job
from tests.web.page import Page, page

SYSPREP = r"C:\Windows\System32\Sysprep\sysprep.exe /generalize /oobe /shutdown"


def form_url(project, volume_id):
    return f"/projects/{project.pk}/volumes/{volume_id}/create-image/"


def offered(form: Page) -> list[str]:
    return [radio.attrs["value"] for radio in form.main.all("input", name="automation")]


def job_page(client, job) -> Page:
    return page(client, f"/jobs/{job.pk}/")


def checklist(view: Page) -> dict[str, str]:
    """The steps as a browser test reads them: name → state, in order."""
    return {li.attrs["data-step"]: li.attrs["data-state"] for li in view.main.all("li", cls="step")}


def round_trip(project, user, state, steps, **fields) -> ImageJob:
    return make_job(
        project,
        user,
        volume_id=WIN_FILE,
        image_name="file-golden",
        state=state,
        os_family="windows",
        automation=Automation.SYSPREP_ROUND_TRIP,
        server_id="srv-file",
        volume={"id": WIN_FILE, "name": "file-sys", "attached_server": {"name": "file-01"}},
        steps=steps,
        **fields,
    )


# --- the form -------------------------------------------------------------------------------


def test_a_volume_on_no_server_is_offered_no_automation(signed_in, project, bob):
    form = page(signed_in(bob), form_url(project, CENTOS_WEB))
    assert offered(form) == []
    assert not form.main.has("input", name="keep_snapshot")


def test_a_linux_volume_on_a_server_is_offered_stop_and_start(signed_in, project, bob):
    form = page(signed_in(bob), form_url(project, CENTOS_BATCH))
    assert offered(form) == ["none", "stop_start"]
    assert "checked" in form.main.one("input", name="automation", value="none").attrs
    words = (
        form.label_for("automation")
        + " "
        + form.main.one("label", for_="id_automation_stop_start").text
    )
    assert "Stop batch-01 for the copy, then start it" in words
    assert "os-stop" in words and "os-start" in words and "with force" in words
    assert not form.main.has("input", name="keep_snapshot")


def test_a_windows_volume_on_a_server_is_offered_the_round_trip(signed_in, project, bob):
    form = page(signed_in(bob), form_url(project, WIN_FILE))
    assert offered(form) == ["none", "stop_start", "sysprep_round_trip"]
    words = form.main.one("label", for_="id_automation_sysprep_round_trip").text
    for call in ("snapshot", "fcx-restore", "os-start", "deletes the snapshot", "2 h"):
        assert call in words
    assert "never started before its restore has succeeded" in words
    assert form.label_for("keep_snapshot").startswith("Keep the snapshot after the restore")
    # Why the preparation box is not needed for the round trip.
    assert "the portal takes it first and then waits for the shutdown Sysprep ends with" in (
        form.main.one(id_="round-trip-preparation").text
    )


def test_a_round_trip_is_submitted_without_the_preparation_box(signed_in, project, bob):
    response = signed_in(bob).post(
        form_url(project, WIN_FILE),
        {"image_name": "file-golden", "automation": "sysprep_round_trip", "keep_snapshot": "on"},
    )
    assert response.status_code == 302, Page(response).errors_by_field()
    job = ImageJob.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.automation, job.state, job.keep_snapshot) == (
        Automation.SYSPREP_ROUND_TRIP,
        JobState.PREPARING,
        True,
    )


def test_stop_and_start_still_needs_the_preparation(signed_in, project, bob):
    client = signed_in(bob)
    refused = Page(
        client.post(
            form_url(project, UBUNTU_FRONT), {"image_name": "f", "automation": "stop_start"}
        )
    )
    assert list(refused.errors_by_field()) == ["preparation_confirmed"]
    response = client.post(
        form_url(project, UBUNTU_FRONT),
        {"image_name": "f", "automation": "stop_start", "preparation_confirmed": "on"},
    )
    assert response.status_code == 302
    assert ImageJob.objects.get().automation == Automation.STOP_START


def test_an_automation_not_offered_is_refused_next_to_the_choice(signed_in, project, bob):
    result = Page(
        signed_in(bob).post(
            form_url(project, CENTOS_BATCH),
            {"image_name": "b", "automation": "sysprep_round_trip", "preparation_confirmed": "on"},
        )
    )
    assert result.status_code == 200
    assert list(result.errors_by_field()) == ["automation"]
    assert not ImageJob.objects.exists()


# --- the job page ---------------------------------------------------------------------------


def test_while_awaiting_the_shutdown_the_page_shows_the_sysprep_command(
    signed_in, project, bob, settings
):
    settings.ENGINE_SHUTDOWN_WAIT_SECONDS = 7200
    job = round_trip(
        project,
        bob,
        JobState.AWAITING_SHUTDOWN,
        {StepName.SNAPSHOT: StepState.DONE, StepName.AWAIT_SHUTDOWN: StepState.RUNNING},
        snapshot_id="snap-1",
    )
    view = job_page(signed_in(bob), job)

    sysprep = view.main.one("section", id_="sysprep")
    assert "Sign in to file-01" in sysprep
    assert sysprep.one("code", id_="sysprep-command").text == SYSPREP
    assert sysprep.one("button", cls="copy-button").attrs["data-copy"] == SYSPREP
    assert "It waits 2 h from the snapshot, until" in sysprep.one(id_="sysprep-deadline").text
    assert "the job is cancelled and the snapshot deleted" in sysprep
    assert checklist(view) == {
        "snapshot": "done",
        "await_shutdown": "running",
        "upload": "pending",
        "restore_snapshot": "pending",
        "start_server": "pending",
        "delete_snapshot": "pending",
    }
    assert (
        "never started while its restore has not succeeded"
        in view.main.one(id_="never-started").text
    )


@pytest.mark.parametrize("state", [JobState.PREPARING, JobState.QUEUED, JobState.FINISHING])
def test_the_sysprep_command_is_shown_only_while_the_portal_waits_for_it(
    signed_in, project, bob, state
):
    job = round_trip(project, bob, state, {})
    view = job_page(signed_in(bob), job)
    assert not view.main.has("section", id_="sysprep")
    assert SYSPREP not in view.main
    assert list(checklist(view)) == [
        "snapshot",
        "await_shutdown",
        "upload",
        "restore_snapshot",
        "start_server",
        "delete_snapshot",
    ]


def test_a_step_shows_its_state_times_and_what_happened(signed_in, project, bob):
    job = round_trip(project, bob, JobState.PREPARING, {StepName.SNAPSHOT: StepState.DONE})
    item = job_page(signed_in(bob), job).main.one("li", data_step="snapshot")
    assert item.text.startswith("Done Take a snapshot of the volume")
    assert len(item.all("time")) == 2  # started, finished
    assert "Done." in item.one("small", cls="reason").text


def refused_restore(project, user):
    return round_trip(
        project,
        user,
        JobState.FINISHING,
        {
            StepName.SNAPSHOT: StepState.DONE,
            StepName.AWAIT_SHUTDOWN: StepState.DONE,
            StepName.UPLOAD: StepState.DONE,
            StepName.RESTORE_SNAPSHOT: StepState.FAILED,
        },
        snapshot_id="snap-1",
        image_id="img-1",
    )


def step_buttons(view: Page, name: str) -> list[str]:
    return [button.text for button in view.main.one("li", data_step=name).all("button")]


def test_bob_may_retry_a_refused_step_or_mark_it_done(signed_in, project, bob):
    job = refused_restore(project, bob)
    view = job_page(signed_in(bob), job)
    assert step_buttons(view, "restore_snapshot") == [
        "Retry this step",
        "I did it by hand — mark done",
    ]
    assert step_buttons(view, "start_server") == []  # only a failed step has them


def test_a_refused_snapshot_can_be_retried_but_not_marked_done(signed_in, project, bob):
    job = round_trip(project, bob, JobState.PREPARING, {StepName.SNAPSHOT: StepState.FAILED})
    assert step_buttons(job_page(signed_in(bob), job), "snapshot") == ["Retry this step"]


@pytest.mark.parametrize("who", ["victor", "dana"])
def test_others_see_the_refused_step_without_its_buttons(signed_in, project, bob, request, who):
    job = refused_restore(project, bob)
    view = job_page(signed_in(request.getfixturevalue(who)), job)
    assert checklist(view)["restore_snapshot"] == "failed"
    assert step_buttons(view, "restore_snapshot") == []


def test_pressing_retry_puts_the_step_back_for_the_engine(signed_in, project, bob):
    job = refused_restore(project, bob)
    client = signed_in(bob)
    response = client.post(f"/jobs/{job.pk}/steps/restore_snapshot/retry/")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    view = job_page(client, job)
    assert "The step will be tried again." in view.messages
    assert checklist(view)["restore_snapshot"] == "pending"


def test_marking_done_by_hand_is_recorded_and_the_step_closes(signed_in, project, alice, bob):
    job = refused_restore(project, bob)
    client = signed_in(alice)
    client.post(f"/jobs/{job.pk}/steps/restore_snapshot/mark-done/")
    view = job_page(client, job)
    assert checklist(view)["restore_snapshot"] == "done"
    assert "as alice said" in view.main.one("li", data_step="restore_snapshot").text


def test_a_viewer_pressing_retry_is_refused(signed_in, project, bob, victor):
    job = refused_restore(project, bob)
    assert (
        signed_in(victor).post(f"/jobs/{job.pk}/steps/restore_snapshot/retry/").status_code == 403
    )
    assert job.steps.get(name="restore_snapshot").state == StepState.FAILED


def test_retrying_a_step_that_did_not_fail_says_why_not(signed_in, project, bob):
    job = refused_restore(project, bob)
    client = signed_in(bob)
    client.post(f"/jobs/{job.pk}/steps/start_server/retry/")
    assert "Only a step that did not succeed can be retried or marked done." in (
        job_page(client, job).messages
    )


def ended_after_shutdown(project, user):
    return round_trip(
        project,
        user,
        JobState.FAILED,
        {
            StepName.SNAPSHOT: StepState.DONE,
            StepName.AWAIT_SHUTDOWN: StepState.DONE,
            StepName.UPLOAD: StepState.FAILED,
        },
        snapshot_id="snap-1",
    )


def test_a_round_trip_given_up_offers_to_restore_the_server_once(signed_in, project, bob):
    job = ended_after_shutdown(project, bob)
    client = signed_in(bob)
    form = job_page(client, job).main.one("form", id_="restore-now")
    assert form.one("button").text == "Restore the server now"
    assert "still Sysprep'd" in form

    client.post(f"/jobs/{job.pk}/restore/")
    job.refresh_from_db()
    assert job.restore_requested_at is not None
    view = job_page(client, job)
    assert not view.main.has("form", id_="restore-now")
    # The engine has steps to run although the job ended: the page keeps following them.
    assert (
        view.main.one("div", id_="job-live").attrs["data-refresh"] == f"/jobs/{job.pk}/?partial=1"
    )
    assert view.main.one("h1").attrs["data-live"] == "true"


def test_no_restore_is_offered_when_sysprep_never_ran(signed_in, project, bob):
    job = round_trip(
        project,
        bob,
        JobState.CANCELLED,
        {StepName.SNAPSHOT: StepState.DONE, StepName.AWAIT_SHUTDOWN: StepState.SKIPPED},
        snapshot_id="snap-1",
    )
    view = job_page(signed_in(bob), job)
    assert not view.main.has("form", id_="restore-now")
    assert view.main.one("h1").attrs["data-live"] == "false"
    assert "data-refresh" not in view.main.one("div", id_="job-live").attrs


def test_a_viewer_is_not_offered_the_restore(signed_in, project, bob, victor):
    job = ended_after_shutdown(project, bob)
    assert not job_page(signed_in(victor), job).main.has("form", id_="restore-now")


def test_an_automated_windows_job_has_no_after_image_checklist_to_tick(signed_in, project, bob):
    job = round_trip(
        project,
        bob,
        JobState.SUCCEEDED,
        dict.fromkeys(PLANS[Automation.SYSPREP_ROUND_TRIP], StepState.DONE),
    )
    view = job_page(signed_in(bob), job)
    assert not view.main.has("section", aria_labelledby="after-heading")
    assert set(checklist(view).values()) == {"done"}


def test_a_job_without_automation_shows_no_steps(signed_in, project, bob):
    view = job_page(signed_in(bob), make_job(project, bob))
    assert not view.main.has("section", aria_labelledby="steps-heading")


def test_the_jobs_list_names_the_new_states(signed_in, project, bob):
    round_trip(project, bob, JobState.AWAITING_SHUTDOWN, {})
    listed = page(signed_in(bob), "/jobs/")
    assert listed.main.one("span", cls="state-awaiting_shutdown").text == "Awaiting shutdown"
