"""How a real copy fails, as Mitaka-era Cinder and Glance fail it, and what the portal concludes
— each decided only after K5 was asked by id, and nothing deleted on weaker evidence.

The simulator plays each shape (k5sim/README.md, "Failure shapes"): Cinder's copy made with the
caller's token, its clean-up after a failed copy, a volume a listing leaves out, an upload
answered 202 by a proxy's HTML page, a zone's registration failing after the settle window.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.engine.connections import client_for, forget_clients
from imaging.engine.errors import Refusal
from imaging.engine.notifications import notify_job_finished
from imaging.engine.polling import poll_project
from imaging.engine.tick import due_projects
from imaging.models import EventKind, JobState, ProjectPoll, SyncStatus, UploadAttempt
from tests.support.demo import CENTOS_WEB, demo_scenario
from tests.support.jobs import poll, run_to_uploading, submit

UPLOAD_SECONDS = 60 + 12 * 30  # the simulator's base + per-GB time for the 30 GB volume
UPLOAD_PATH = "/volumes/.*/action"


def sim_image(k5sim, image_id):
    return next((i for i in k5sim.state()["images"] if i["id"] == image_id), None)


def messages(job) -> list[str]:
    return list(job.events.order_by("id").values_list("message", flat=True))


@pytest.mark.django_db
def test_an_upload_is_sent_with_a_token_that_outlives_its_copy(k5sim, project, bob, settings):
    # K5 tokens live 16 s here and a 30 GB copy takes 11 s (in real time: speed 1, no jumps,
    # so that the portal's clock and K5's agree on how old a token is).
    scenario = demo_scenario()
    scenario["settings"].update(
        token_seconds=16, upload_base_seconds=0, upload_seconds_per_gb=11 / 30
    )
    k5sim.reset(scenario=scenario)
    forget_clients()
    settings.ENGINE_EXPECTED_BASE_SECONDS = 0
    settings.ENGINE_EXPECTED_SECONDS_PER_GB = 11 / 30
    job = submit(project, bob)  # signs in: that token expires 16 s from now
    time.sleep(8)  # 8 s left: more than the 4 s refresh margin, less than the copy needs

    job = run_to_uploading(project, job)
    accepted = job.events.get(to_state=JobState.UPLOADING)
    expires = timezone.datetime.fromisoformat(accepted.detail["token_expires_at"])
    assert expires - job.submitted_at >= timedelta(seconds=11)
    assert accepted.detail["expected_copy_seconds"] == 11
    assert "sign-in valid until" in accepted.message

    time.sleep(12)  # the copy ends
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.VERIFYING, job.error_message
    assert sim_image(k5sim, job.image_id)["status"] == "active"


@pytest.mark.django_db
def test_a_copy_longer_than_a_k5_sign_in_is_refused_before_anything_is_queued(k5sim, project, bob):
    scenario = demo_scenario()
    scenario["settings"]["token_seconds"] = 600  # the 30 GB copy is expected to take 12 min
    k5sim.reset(scenario=scenario)
    forget_clients()
    with pytest.raises(Refusal) as refused:
        submit(project, bob)
    assert refused.value.code == "copy_outlasts_sign_in"
    assert "12 min" in refused.value.message and "10 min" in refused.value.message
    assert not project.jobs.exists()


@pytest.mark.django_db
def test_a_failed_copy_whose_image_k5_removed_is_named_for_what_it_is(k5sim, project, bob):
    k5sim.add_fault(kind="upload_failure", volume_id=CENTOS_WEB, leaves="nothing")
    job = run_to_uploading(project, submit(project, bob))
    k5sim.advance(UPLOAD_SECONDS + 10)
    assert sim_image(k5sim, job.image_id) is None  # Cinder deleted it

    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message == (
        "K5 could not create the image (the copy failed and K5 removed the image)."
    )
    assert job.upload_attempts.get().outcome == UploadAttempt.Outcome.ACCEPTED  # slot used
    assert JobState.QUEUED not in [e.to_state for e in job.events.all()][2:]  # not re-sent


@pytest.mark.django_db
def test_a_copy_that_stopped_with_an_expired_token_fails_on_the_second_look_and_is_cleaned_up(
    k5sim, project, bob
):
    job = submit(project, bob)
    client_for(project)  # the token the upload will carry...
    k5sim.advance(10800 - 100)  # ...has 100 s left in K5's eyes; the copy takes 420 s
    job = run_to_uploading(project, job)
    k5sim.advance(UPLOAD_SECONDS + 10)
    assert sim_image(k5sim, job.image_id)["status"] == "saving"
    assert k5sim.volume(CENTOS_WEB)["status"] == "available"

    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.UPLOADING  # one look could be a list lagging behind
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message == (
        "The copy stopped before the image was complete (an expired K5 sign-in is the usual cause)."
    )
    assert sim_image(k5sim, job.image_id) is None  # the leftover was deleted, by id
    assert f"Deleted the leftover saving image {job.image_id}." in messages(job)


@pytest.mark.django_db
def test_a_volume_hidden_from_listings_neither_fails_its_job_nor_deletes_its_image(
    k5sim, project, bob
):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.add_fault(kind="volume_list_omit", volume_id=CENTOS_WEB, seconds=40)
    poll(project)
    k5sim.advance(20)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.UPLOADING
    assert sim_image(k5sim, job.image_id)["status"] in ("queued", "saving")

    k5sim.advance(UPLOAD_SECONDS)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.VERIFYING


@pytest.mark.django_db
def test_a_deleted_volume_fails_its_job_but_never_deletes_an_image(k5sim, project, bob):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.add_fault(kind="volume_vanish", volume_id=CENTOS_WEB, after_seconds=30)
    k5sim.advance(60)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message == "The volume was deleted while the image was being created."
    assert sim_image(k5sim, job.image_id)["status"] == "killed"  # left as K5 left it
    assert not [m for m in messages(job) if m.startswith("Deleted")]


@pytest.mark.django_db
def test_an_upload_answered_by_an_html_page_is_adopted_not_called_refused(
    k5sim, project, bob, settings
):
    settings.ENGINE_SUBMIT_GRACE_SECONDS = 1
    k5sim.add_fault(kind="http", method="POST", path=UPLOAD_PATH, answer_html=202)
    job = run_to_uploading(project, submit(project, bob))
    assert job.state == JobState.SUBMITTING  # not "refused": K5 may well be copying
    assert job.upload_attempts.get().outcome == UploadAttempt.Outcome.UNKNOWN
    [made] = k5sim.images_named("web-golden")  # K5 did create it

    time.sleep(1.5)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.UPLOADING
    assert job.image_id == made["id"]
    assert len(k5sim.images_named("web-golden")) == 1  # never sent twice


@pytest.mark.django_db
def test_a_zone_failing_after_the_settle_window_moves_a_succeeded_job_to_sync_failed(
    k5sim, project, bob, mailoutbox, django_capture_on_commit_callbacks
):
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b", after_seconds=3600)
    job = run_to_uploading(project, submit(project, bob))
    k5sim.advance(UPLOAD_SECONDS + 10)
    poll(project)
    k5sim.advance(200)
    job.refresh_from_db()
    poll(project, later=(job.sync_watch_until - timezone.now()).total_seconds() + 1)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED

    k5sim.advance(3600)  # K5 now reports jp-east-1b's registration failed
    assert project in due_projects()  # an idle project is still listed for its images
    with django_capture_on_commit_callbacks() as handed_to_workers:
        poll_project(project)
    job.refresh_from_db()
    assert job.state == JobState.SYNC_FAILED
    assert "after the job had succeeded" in job.events.get(to_state=JobState.SYNC_FAILED).message
    assert job.zones.get(availability_zone="jp-east-1b").status == SyncStatus.FAILED
    assert "synchronize image" in job.zones.get(availability_zone="jp-east-1b").reason
    assert handed_to_workers  # the notification task, queued on commit
    notify_job_finished(job.pk)  # what the worker then runs
    assert [m.subject for m in mailoutbox] == [
        "Image web-golden is not usable: availability-zone sync failed"
    ]
    assert job.events.filter(kind=EventKind.NOTIFICATION).exists()


@pytest.mark.django_db
def test_a_succeeded_job_is_read_from_the_lists_only_for_its_watch_window(
    k5sim, project, bob, settings
):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.advance(UPLOAD_SECONDS + 10)
    poll(project)
    job.refresh_from_db()
    poll(project, later=(job.sync_watch_until - timezone.now()).total_seconds() + 1)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert project in due_projects()
    ProjectPoll.record(project.pk)  # listed just now: not again before the interval
    assert project not in due_projects()
    ProjectPoll.objects.filter(project=project).update(
        polled_at=timezone.now() - timedelta(seconds=settings.ENGINE_SYNC_WATCH_INTERVAL_SECONDS)
    )
    assert project in due_projects()
    job.finished_at = timezone.now() - timedelta(hours=settings.ENGINE_SYNC_WATCH_HOURS + 1)
    job.save(update_fields=["finished_at"])
    assert project not in due_projects()
