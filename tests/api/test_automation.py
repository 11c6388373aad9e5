"""Automation through the API: a job asks the portal to stop and start its server, or to do
the whole Windows round trip; the job shows its steps; a person retries a step K5 refused,
marks one done that they did by hand, or has a round trip's server restored without an image.
(The engine running the steps is tested in tests/engine/.)"""

from __future__ import annotations

import pytest

from imaging.engine.automation import advance_project
from imaging.models import (
    Automation,
    EventKind,
    ImageJob,
    JobEvent,
    JobState,
    StepName,
    StepState,
)
from tests.api.client import error_of, job_body
from tests.support.demo import CENTOS_BATCH, CENTOS_WEB, UBUNTU_FRONT, WIN_AD, WIN_APP, WIN_FILE
from tests.support.jobs import make_job

ROUND_TRIP_STEPS = [
    "snapshot",
    "await_shutdown",
    "upload",
    "restore_snapshot",
    "start_server",
    "delete_snapshot",
]


# --- asking for it --------------------------------------------------------------------------


def test_a_round_trip_needs_no_preparation_and_starts_with_the_snapshot(api, project, bob):
    body = job_body(project, WIN_FILE, "file-golden", automation="sysprep_round_trip")
    del body["preparation_confirmed"]  # Sysprep runs after the snapshot: nothing to confirm
    response = api(bob).post("/api/v1/jobs/", {**body, "keep_snapshot": True})

    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["automation"], job["state"], job["keep_snapshot"]) == (
        "sysprep_round_trip",
        "preparing",
        True,
    )
    assert [step["name"] for step in job["steps"]] == ROUND_TRIP_STEPS
    assert {step["state"] for step in job["steps"]} == {"pending"}
    assert set(job["steps"][0]) == {"name", "state", "started_at", "finished_at", "detail"}
    stored = ImageJob.objects.get(pk=job["id"])
    assert stored.preparation_confirmed == "windows-sysprep-awaited"
    assert stored.server_id  # the server whose shutdown it waits for
    assert stored.force  # the volume is attached: uploaded with force once the server is off


def test_stop_start_on_a_running_server_needs_neither_force_nor_the_override(api, project, bob):
    response = api(bob).post(
        "/api/v1/jobs/", job_body(project, UBUNTU_FRONT, "front-golden", automation="stop_start")
    )

    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["automation"], job["state"], job["force"]) == ("stop_start", "queued", True)
    assert [step["name"] for step in job["steps"]] == ["stop_server", "upload", "start_server"]
    assert job["snapshot_id"] == "" and job["keep_snapshot"] is False


def test_without_automation_the_job_has_no_steps(api, project, bob):
    response = api(bob).post("/api/v1/jobs/", job_body(project, CENTOS_WEB))
    assert response.status_code == 201, response.content
    assert (response.json()["automation"], response.json()["steps"]) == ("none", [])


def test_without_automation_the_preparation_is_still_required(api, project, bob):
    body = job_body(project, WIN_FILE, "file-golden", force=True)
    del body["preparation_confirmed"]
    response = api(bob).post("/api/v1/jobs/", body)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], list(error["fields"])) == (
        "preparation_required",
        ["preparation_confirmed"],
    )
    assert "Sysprep was run" in error["message"]
    assert ImageJob.objects.count() == 0


@pytest.mark.parametrize(
    ("volume", "automation", "words"),
    [
        (CENTOS_BATCH, "sysprep_round_trip", "applies only to a Windows volume"),
        (WIN_AD, "sysprep_round_trip", "attached to no server"),
        (CENTOS_WEB, "stop_start", "attached to no server"),
    ],
)
def test_an_automation_that_does_not_fit_the_volume_is_refused(
    api, project, bob, volume, automation, words
):
    response = api(bob).post(
        "/api/v1/jobs/", job_body(project, volume, "golden", automation=automation)
    )
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "automation_not_applicable"
    assert list(error["fields"]) == ["automation"]
    assert words in error["fields"]["automation"][0]
    assert ImageJob.objects.count() == 0


def test_an_unknown_automation_is_refused_by_name(api, project, bob):
    response = api(bob).post("/api/v1/jobs/", job_body(project, automation="reboot"))
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], list(error["fields"])) == ("invalid", ["automation"])


# --- a step K5 refused ----------------------------------------------------------------------


@pytest.fixture
def refused_restore(project, bob):
    """A round trip whose image is usable and whose restore K5 refused."""
    return make_job(
        project,
        bob,
        volume_id=WIN_FILE,
        image_name="file-golden",
        state=JobState.FINISHING,
        os_family="windows",
        automation=Automation.SYSPREP_ROUND_TRIP,
        server_id="srv-file",
        snapshot_id="snap-1",
        image_id="img-1",
        steps={
            StepName.SNAPSHOT: StepState.DONE,
            StepName.AWAIT_SHUTDOWN: StepState.DONE,
            StepName.UPLOAD: StepState.DONE,
            StepName.RESTORE_SNAPSHOT: StepState.FAILED,
        },
    )


def step_of(job: dict, name: str) -> dict:
    return next(step for step in job["steps"] if step["name"] == name)


def test_the_requester_retries_a_refused_step(api, project, bob, refused_restore):
    response = api(bob).post(f"/api/v1/jobs/{refused_restore.pk}/steps/restore_snapshot/retry/")

    assert response.status_code == 200, response.content
    step = step_of(response.json(), "restore_snapshot")
    assert (step["state"], step["finished_at"]) == ("pending", None)
    assert "Retried by bob" in step["detail"]
    event = JobEvent.objects.filter(job=refused_restore, kind=EventKind.ACTION).last()
    assert event.actor_name == "bob" and "retried by bob" in event.message


def test_a_project_admin_marks_a_step_done_by_hand(api, project, alice, refused_restore):
    url = f"/api/v1/jobs/{refused_restore.pk}/steps/restore_snapshot/mark-done/"
    response = api(alice).post(url)

    assert response.status_code == 200, response.content
    step = step_of(response.json(), "restore_snapshot")
    assert step["state"] == "done" and step["finished_at"]
    assert "as alice said" in step["detail"]
    assert step_of(response.json(), "start_server")["state"] == "pending"  # the engine goes on


@pytest.mark.parametrize("action", ["retry", "mark-done"])
@pytest.mark.parametrize(("who", "status"), [("victor", 403), ("dana", 403), ("pat", 404)])
def test_only_the_requester_or_an_admin_may_act_on_a_step(
    api, refused_restore, request, who, status, action
):
    user = request.getfixturevalue(who)
    url = f"/api/v1/jobs/{refused_restore.pk}/steps/restore_snapshot/{action}/"
    response = api(user).post(url)
    assert response.status_code == status
    assert error_of(response)["code"] == {403: "forbidden", 404: "not_found"}[status]
    assert refused_restore.steps.get(name="restore_snapshot").state == StepState.FAILED


@pytest.mark.parametrize("action", ["retry", "mark-done"])
def test_a_step_that_did_not_fail_is_left_alone(api, bob, refused_restore, action):
    url = f"/api/v1/jobs/{refused_restore.pk}/steps/start_server/{action}/"
    response = api(bob).post(url)
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "not_allowed"
    assert "Only a step that did not succeed" in error["message"]
    assert refused_restore.steps.get(name="start_server").state == StepState.PENDING


def test_a_snapshot_cannot_be_marked_done_by_hand(api, project, bob):
    job = make_job(
        project,
        bob,
        volume_id=WIN_FILE,
        state=JobState.PREPARING,
        os_family="windows",
        automation=Automation.SYSPREP_ROUND_TRIP,
        steps={StepName.SNAPSHOT: StepState.FAILED},
    )
    response = api(bob).post(f"/api/v1/jobs/{job.pk}/steps/snapshot/mark-done/")
    assert response.status_code == 409
    assert "the portal needs what K5 returns" in error_of(response)["message"]
    # Retrying it is allowed.
    assert api(bob).post(f"/api/v1/jobs/{job.pk}/steps/snapshot/retry/").status_code == 200


@pytest.mark.parametrize("step", ["stop_server", "no_such_step"])
def test_a_step_the_job_does_not_have_is_not_found(api, bob, refused_restore, step):
    response = api(bob).post(f"/api/v1/jobs/{refused_restore.pk}/steps/{step}/retry/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# --- restoring a round trip's server without an image ---------------------------------------


def ended_round_trip(project, user, *, shut_down: bool) -> ImageJob:
    """A round trip that failed after (or before) Sysprep's shutdown."""
    return make_job(
        project,
        user,
        volume_id=WIN_FILE,
        image_name="file-golden",
        state=JobState.FAILED,
        os_family="windows",
        automation=Automation.SYSPREP_ROUND_TRIP,
        server_id="srv-file",
        snapshot_id="snap-1",
        steps={
            StepName.SNAPSHOT: StepState.DONE,
            StepName.AWAIT_SHUTDOWN: StepState.DONE if shut_down else StepState.SKIPPED,
            StepName.UPLOAD: StepState.FAILED,
        },
    )


def test_the_requester_has_the_server_restored_once(api, project, bob):
    job = ended_round_trip(project, bob, shut_down=True)
    response = api(bob).post(f"/api/v1/jobs/{job.pk}/restore/")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == job.pk
    job.refresh_from_db()
    assert job.restore_requested_at is not None and job.steps_open
    assert JobEvent.objects.filter(
        job=job, kind=EventKind.ACTION, actor_name="bob", message__contains="restore the server"
    ).exists()

    again = api(bob).post(f"/api/v1/jobs/{job.pk}/restore/")
    assert again.status_code == 409
    assert error_of(again)["code"] == "not_allowed"


def test_a_server_that_was_never_shut_down_has_nothing_to_restore(api, project, bob):
    job = ended_round_trip(project, bob, shut_down=False)
    response = api(bob).post(f"/api/v1/jobs/{job.pk}/restore/")
    assert response.status_code == 409
    assert "still Sysprep'd" in error_of(response)["message"]
    job.refresh_from_db()
    assert job.restore_requested_at is None


@pytest.mark.parametrize(("who", "status"), [("victor", 403), ("dana", 403), ("pat", 404)])
def test_only_the_requester_or_an_admin_may_have_it_restored(
    api, project, bob, request, who, status
):
    job = ended_round_trip(project, bob, shut_down=True)
    response = api(request.getfixturevalue(who)).post(f"/api/v1/jobs/{job.pk}/restore/")
    assert response.status_code == status
    job.refresh_from_db()
    assert job.restore_requested_at is None
    assert (
        api(request.getfixturevalue("alice")).post(f"/api/v1/jobs/{job.pk}/restore/").status_code
        == 200
    )


def test_the_steps_read_in_the_readers_language(api, k5sim, project, bob):
    body = job_body(project, WIN_APP, "win-golden", automation="sysprep_round_trip")
    job_id = api(bob).post("/api/v1/jobs/", body).json()["id"]
    advance_project(project)  # asks K5 for the snapshot
    k5sim.advance(60)
    advance_project(project)  # the snapshot is available: wait for Sysprep
    snapshot_id = ImageJob.objects.get(pk=job_id).snapshot_id

    def steps(language):
        answer = api(bob).get(f"/api/v1/jobs/{job_id}/", headers={"Accept-Language": language})
        return {step["name"]: step["detail"] for step in answer.json()["steps"]}

    assert steps("ja")["snapshot"] == f"スナップショット {snapshot_id} は利用可能です。"
    assert steps("ja")["await_shutdown"] == "Sysprep によるシャットダウンを待っています。"
    assert steps("en")["snapshot"] == f"Snapshot {snapshot_id} is available."
    assert steps("en")["await_shutdown"] == "Waiting for Sysprep's shutdown."
