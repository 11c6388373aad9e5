"""K5 allows 4 uploads an hour per project: the engine never asks for more, keeps order,
tells each queued job when it should start, and waits — not fails — when K5 says no."""

from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.engine.pacing import budget, queue_forecast, start_due_uploads
from imaging.engine.upload import send_upload
from imaging.k5 import K5Client
from imaging.models import JobState, UploadAttempt
from tests.support.jobs import submit


def bulk_volumes(k5sim, project, count):
    created = k5sim.control(
        "POST",
        f"projects/{project.k5_project_id}/volumes",
        json={"count": count, "size": 1, "os": "centos"},
    ).json()
    return created["ids"]


def queue(k5sim, project, user, count):
    return [
        submit(project, user, volume_id, image_name=f"img-{n:02d}")
        for n, volume_id in enumerate(bulk_volumes(k5sim, project, count))
    ]


@pytest.mark.django_db
def test_it_starts_at_most_the_limit_oldest_first_and_forecasts_the_rest(k5sim, project, bob):
    jobs = queue(k5sim, project, bob, 6)
    now = timezone.now()
    forecast = queue_forecast(project, now)
    assert [forecast[job.pk][0] for job in jobs] == [1, 2, 3, 4, 5, 6]
    assert all(forecast[job.pk][1] == now for job in jobs[:4])
    assert forecast[jobs[4].pk][1] == now + timedelta(hours=1)

    started = start_due_uploads(project, now)
    assert [job.pk for job in started] == [job.pk for job in jobs[:4]]
    assert start_due_uploads(project, now) == [], "the window is full"
    assert budget(project, now).free == 0
    assert budget(project, now).next_slot_at == now + timedelta(hours=1)

    later = now + timedelta(hours=1, seconds=1)
    assert [job.pk for job in start_due_uploads(project, later)] == [jobs[4].pk, jobs[5].pk]


@pytest.mark.django_db
def test_a_rejected_call_still_counts_but_a_rate_limited_one_does_not(k5sim, project, bob):
    jobs = queue(k5sim, project, bob, 2)
    start_due_uploads(project)
    UploadAttempt.objects.filter(job=jobs[0]).update(outcome=UploadAttempt.Outcome.REJECTED)
    UploadAttempt.objects.filter(job=jobs[1]).update(outcome=UploadAttempt.Outcome.RATE_LIMITED)
    assert budget(project).used == 1


@pytest.mark.django_db
def test_when_k5_still_says_rate_limited_the_job_waits_for_retry_after_in_order(
    k5sim, project, bob
):
    jobs = queue(k5sim, project, bob, 2)
    # Somebody else used the project's 4 uploads outside the portal.
    for volume_id in bulk_volumes(k5sim, project, 4):
        K5Client(project.k5_config()).post(
            "blockstorage",
            f"volumes/{volume_id}/action",
            json={"os-volume_upload_image": {"image_name": volume_id}},
        )
    start_due_uploads(project)
    assert send_upload(jobs[0].pk).startswith("requeued: rate_limited")
    jobs[0].refresh_from_db()
    assert jobs[0].state == JobState.QUEUED
    assert jobs[0].not_before > timezone.now() + timedelta(minutes=50)
    assert jobs[0].waiting_reason.startswith("K5's upload limit is reached; next try after")
    assert jobs[0].error_message == ""
    assert UploadAttempt.objects.get(job=jobs[0]).outcome == "rate_limited"

    send_upload(jobs[1].pk)
    # The job behind the waiting one does not overtake it.
    start_due_uploads(project)
    jobs[1].refresh_from_db()
    assert jobs[1].state == JobState.QUEUED
    forecast = queue_forecast(project)
    assert forecast[jobs[1].pk][1] >= forecast[jobs[0].pk][1] >= jobs[0].not_before


@pytest.mark.django_db
def test_k5_unreachable_before_sending_queues_the_job_again(k5sim, project, bob):
    job = queue(k5sim, project, bob, 1)[0]
    start_due_uploads(project)
    k5sim.add_fault(kind="http", method="POST", path="/action$", status=503)
    assert send_upload(job.pk) == "requeued: not_sent"
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.waiting_reason.startswith("K5 was unreachable")
    assert budget(project).used == 0


@pytest.mark.django_db
def test_a_cancelled_job_never_reaches_k5(k5sim, project, bob):
    from imaging.engine.remedy import cancel_job

    job = queue(k5sim, project, bob, 1)[0]
    cancel_job(job, bob)
    assert start_due_uploads(project) == []
    assert job.events.filter(to_state="cancelled", actor=bob).exists()
