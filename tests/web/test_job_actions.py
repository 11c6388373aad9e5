"""The buttons of the job page: cancel, retry (the remedy) and the Windows after-image tasks.

bob requested the job; dana is another member, victor a viewer, alice the project's admin and
stella staff. Each action is a POST with a CSRF token; what it did shows on the job page.
"""

import pytest

from imaging.models import EventKind, ImageJob, JobState
from tests.support.demo import OLD_IMAGE
from tests.support.jobs import make_job
from tests.web.page import Page, page

FORBIDDEN = "Only the member who requested this job, or a project admin, may do that."


def act(client, job, action, **data):
    return client.post(f"/jobs/{job.pk}/{action}/", data)


def state_of(job) -> str:
    job.refresh_from_db()
    return job.state


# --- cancel ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["bob", "alice", "stella"])
def test_the_requester_an_admin_or_staff_cancels_a_queued_job(
    signed_in, project, request, bob, who
):
    user = request.getfixturevalue(who)
    job = make_job(project, bob)
    client = signed_in(user)

    response = act(client, job, "cancel")

    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert state_of(job) == JobState.CANCELLED
    view = page(client, response["Location"])
    assert "The job was cancelled." in view.messages
    assert view.main.one("h1").text == "web-golden Cancelled"
    assert job.events.filter(
        kind=EventKind.TRANSITION, actor=user, message=f"Cancelled by {who}."
    ).exists()


@pytest.mark.parametrize("who", ["dana", "victor"])
def test_another_member_or_a_viewer_may_not_cancel_bobs_job(signed_in, project, request, bob, who):
    job = make_job(project, bob)
    response = act(signed_in(request.getfixturevalue(who)), job, "cancel")
    assert response.status_code == 403
    assert Page(response).main.one("p", role="alert").text == FORBIDDEN
    assert state_of(job) == JobState.QUEUED


def test_a_job_already_sent_to_k5_cannot_be_cancelled_and_bob_is_told_why(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.UPLOADING)
    client = signed_in(bob)
    response = act(client, job, "cancel")
    assert response.status_code == 302
    assert page(client, response["Location"]).messages == [
        "The upload has already been sent to K5 and cannot be called back; wait for the job to end."
    ]
    assert state_of(job) == JobState.UPLOADING


def test_a_finished_job_cannot_be_cancelled(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.SUCCEEDED)
    client = signed_in(bob)
    response = act(client, job, "cancel")
    assert page(client, response["Location"]).messages == ["The job has already ended (succeeded)."]


# --- retry (the remedy) ------------------------------------------------------------------------


def test_bob_retries_his_failed_job_as_a_new_job_linked_to_the_old(signed_in, project, bob):
    failed = make_job(project, bob, state=JobState.FAILED)
    client = signed_in(bob)

    response = act(client, failed, "retry")

    retry = ImageJob.objects.get(retry_of=failed)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{retry.pk}/"
    assert (retry.state, retry.image_name, retry.volume_id, retry.requested_by) == (
        JobState.QUEUED,
        failed.image_name,
        failed.volume_id,
        bob,
    )
    view = page(client, response["Location"])
    assert view.messages == [f"Retrying as job {retry.pk}."], "no image to remove: none said"
    assert view.main.one("a", text=f"job {failed.pk}").attrs["href"] == f"/jobs/{failed.pk}/"


def test_the_remedy_for_a_sync_failure_queues_a_retry_and_keeps_the_image_until_it_is_sent(
    signed_in, project, alice, bob
):
    failed = make_job(project, bob, state=JobState.SYNC_FAILED, image_id=OLD_IMAGE)
    client = signed_in(alice)
    response = act(client, failed, "retry")
    retry = ImageJob.objects.get(retry_of=failed)
    assert response["Location"] == f"/jobs/{retry.pk}/"
    assert page(client, response["Location"]).messages == [
        f"Retrying as job {retry.pk}; the old image {OLD_IMAGE} is deleted just before the new "
        "upload is sent."
    ]
    assert retry.requested_by == alice
    history = list(failed.events.values_list("message", flat=True))
    assert f"Retried as job {retry.pk}." in history
    assert not any(OLD_IMAGE in message for message in history)  # nothing deleted yet


@pytest.mark.parametrize("who", ["dana", "victor"])
def test_another_member_or_a_viewer_may_not_retry_bobs_job(signed_in, project, request, bob, who):
    failed = make_job(project, bob, state=JobState.FAILED)
    response = act(signed_in(request.getfixturevalue(who)), failed, "retry")
    assert response.status_code == 403
    assert not ImageJob.objects.filter(retry_of=failed).exists()


def test_a_job_is_retried_once(signed_in, project, bob):
    failed = make_job(project, bob, state=JobState.FAILED)
    client = signed_in(bob)
    page(client, act(client, failed, "retry")["Location"])  # read: its message is shown
    retry = ImageJob.objects.get(retry_of=failed)
    response = act(client, failed, "retry")
    assert page(client, response["Location"]).messages == [
        f"This job was already retried as job {retry.pk}."
    ]
    assert ImageJob.objects.filter(retry_of=failed).count() == 1


def test_a_running_job_cannot_be_retried(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.UPLOADING)
    client = signed_in(bob)
    response = act(client, job, "retry")
    assert page(client, response["Location"]).messages == [
        "Only a failed job or one whose sync failed can be retried; this one is uploading."
    ]
    assert ImageJob.objects.count() == 1


# --- after-image tasks (Windows) -------------------------------------------------------------


def test_bob_records_an_after_image_task_once(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.SUCCEEDED, os_family="windows")
    client = signed_in(bob)
    assert act(client, job, "after-task", task="restart_server").status_code == 302
    act(client, job, "after-task", task="restart_server")
    job.refresh_from_db()
    assert job.after_tasks["restart_server"]["by"] == "bob"
    assert (
        job.events.filter(kind=EventKind.ACTION, actor=bob, message="Restarted the server.").count()
        == 1
    )


def test_alice_the_admin_may_tick_off_bobs_after_image_task(signed_in, project, alice, bob):
    job = make_job(project, bob, state=JobState.SUCCEEDED, os_family="windows")
    act(signed_in(alice), job, "after-task", task="restore_snapshot")
    job.refresh_from_db()
    assert job.after_tasks["restore_snapshot"]["by"] == "alice"


@pytest.mark.parametrize("who", ["dana", "victor"])
def test_others_may_not_tick_off_bobs_after_image_tasks(signed_in, project, request, bob, who):
    job = make_job(project, bob, state=JobState.SUCCEEDED, os_family="windows")
    response = act(
        signed_in(request.getfixturevalue(who)), job, "after-task", task="restart_server"
    )
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.after_tasks == {}


def test_an_unknown_after_image_task_is_refused(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.SUCCEEDED, os_family="windows")
    client = signed_in(bob)
    response = act(client, job, "after-task", task="format_disk")
    assert page(client, response["Location"]).messages == ["That task does not apply to this job."]


# --- every action ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status"), [("cancel", 405), ("retry", 200), ("after-task", 405)]
)
def test_an_action_is_never_done_by_a_get(signed_in, project, bob, action, status):
    # A GET of retry is the page that says what the retry will do, before it is confirmed.
    job = make_job(project, bob, state=JobState.FAILED)
    assert signed_in(bob).get(f"/jobs/{job.pk}/{action}/").status_code == status
    assert state_of(job) == JobState.FAILED
    assert not ImageJob.objects.filter(retry_of=job).exists()


@pytest.mark.parametrize("action", ["cancel", "retry", "after-task"])
def test_an_action_needs_the_csrf_token(signed_in, project, bob, action):
    job = make_job(project, bob, state=JobState.QUEUED)
    response = act(signed_in(bob, enforce_csrf_checks=True), job, action)
    assert response.status_code == 403
    assert state_of(job) == JobState.QUEUED


def test_the_action_buttons_send_the_csrf_token(signed_in, project, bob):
    job = make_job(project, bob, state=JobState.QUEUED)
    client = signed_in(bob, enforce_csrf_checks=True)
    form = page(client, f"/jobs/{job.pk}/").main.one("form", action=f"/jobs/{job.pk}/cancel/")
    assert form.attrs["method"] == "post"
    token = form.one("input", name="csrfmiddlewaretoken").attrs["value"]
    assert client.post(f"/jobs/{job.pk}/cancel/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert state_of(job) == JobState.CANCELLED


def test_an_anonymous_visitor_is_sent_to_sign_in_and_nothing_happens(signed_in, project, bob):
    job = make_job(project, bob)
    response = act(signed_in(None), job, "cancel")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert state_of(job) == JobState.QUEUED
