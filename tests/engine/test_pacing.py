"""K5 allows 4 uploads an hour per project: the engine never asks for more, keeps order,
tells each queued job when it should start, and waits — not fails — when K5 says no."""

import heapq
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from imaging.engine.pacing import (
    budget,
    forecast_starts,
    free_slots,
    next_in_queue,
    queue_forecasts,
    start_due_uploads,
)
from imaging.engine.upload import send_upload
from imaging.k5 import K5Client
from imaging.models import ImageJob, JobState, UploadAttempt
from tests.support.jobs import make_job, submit


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
    forecast = queue_forecasts(jobs, now)
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
    forecast = queue_forecasts(jobs)
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


# The forecast, without the database: counted in closed form, it must give what starting the
# whole queue job by job gives.

NOW = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def started_one_by_one(sent, limit, window, not_befores):
    """Every queued job's start, as `start_due_uploads` would reach it, one job at a time."""
    slots = [NOW] * max(limit - len(sent), 0) + [when + window for when in sent[-limit:]]
    heapq.heapify(slots)
    starts, earliest = [], NOW
    for not_before in not_befores:
        start = max(heapq.heappop(slots), earliest, not_before or NOW)
        earliest = start
        starts.append(start)
        heapq.heappush(slots, start + window)
    return starts


@st.composite
def queues(draw):
    limit = draw(st.integers(1, 5))
    seconds = draw(st.integers(1, 7200))
    # Counted uploads are in the window; some may be stamped after `now` (another host's
    # clock, or sent while the forecast was read).
    ago = draw(st.lists(st.integers(0, seconds - 1), max_size=limit + 2))
    ahead = draw(st.lists(st.integers(1, seconds), max_size=2))
    sent = sorted(
        [NOW - timedelta(seconds=s) for s in ago] + [NOW + timedelta(seconds=s) for s in ahead]
    )
    not_before = st.one_of(
        st.none(),
        st.integers(-3 * seconds, 0),  # passed: cannot hold the job up
        st.integers(1, 3 * seconds),  # K5 said to wait
    ).map(lambda s: None if s is None else NOW + timedelta(seconds=s))
    not_befores = draw(st.lists(not_before, max_size=60))
    asked = draw(st.sets(st.sampled_from(range(len(not_befores))))) if not_befores else set()
    return limit, timedelta(seconds=seconds), sent, not_befores, asked


@settings(max_examples=500, deadline=None)
@given(queues())
def test_the_counted_forecast_is_the_one_by_one_start_of_the_whole_queue(queue):
    limit, window, sent, not_befores, asked = queue
    marks = [
        (n + 1, not_before, n)
        for n, not_before in enumerate(not_befores)
        if n in asked or (not_before and not_before > NOW)
    ]
    forecast = forecast_starts(free_slots(sent, limit, window, NOW), window, NOW, marks)
    starts = started_one_by_one(sent, limit, window, not_befores)
    assert {n: forecast[n] for n in asked} == {n: (n + 1, starts[n]) for n in asked}
    # A job submitted now stands behind all of them.
    newcomer = [*marks, (len(not_befores) + 1, None, None)]
    forecast = forecast_starts(free_slots(sent, limit, window, NOW), window, NOW, newcomer)
    assert forecast[None][1] == started_one_by_one(sent, limit, window, [*not_befores, None])[-1]


# The forecast from the database: positions counted there, whatever the size of the queue.


def queued_jobs(project, user, count, **fields):
    """`count` queued jobs of `project`, oldest first, in one insert: no zones nor events, the
    forecast reads only the job rows."""
    first = ImageJob.objects.count()
    ImageJob.objects.bulk_create(
        ImageJob(
            project=project,
            volume_id=f"crowd-{n}",
            image_name=f"crowd-{n}",
            requested_by=user,
            requested_by_name=user.get_username(),
            **fields,
        )
        for n in range(first, first + count)
    )
    return list(
        ImageJob.objects.select_related("project")
        .filter(project=project)
        .order_by("-created_at", "-id")[:count][::-1]
    )


@pytest.mark.django_db
def test_it_forecasts_jobs_of_two_projects_in_one_call(project, other_project, bob):
    other_project.upload_limit, other_project.upload_window_seconds = 2, 600
    other_project.save()
    now = timezone.now()
    here = [make_job(project, bob, volume_id=f"vol-{n}", image_name=f"a-{n}") for n in range(5)]
    there = [
        make_job(other_project, bob, volume_id=f"vol-{n}", image_name=f"b-{n}") for n in range(4)
    ]
    UploadAttempt.objects.create(project=other_project, job=there[0], sent_at=now)

    forecast = queue_forecasts([here[0], here[4], there[1], there[2], there[3]], now)
    assert forecast == {
        here[0].pk: (1, now),
        here[4].pk: (5, now + timedelta(hours=1)),
        # Two slots, one taken until 10 minutes from now.
        there[1].pk: (2, now + timedelta(minutes=10)),
        there[2].pk: (3, now + timedelta(minutes=10)),
        there[3].pk: (4, now + timedelta(minutes=20)),
    }


@pytest.mark.django_db
def test_a_job_told_to_wait_holds_up_the_jobs_behind_it_even_when_not_asked_about(project, bob):
    now = timezone.now()
    waiting, *behind = [
        make_job(project, bob, volume_id=f"vol-{n}", image_name=f"img-{n}") for n in range(3)
    ]
    ImageJob.objects.filter(pk=waiting.pk).update(not_before=now + timedelta(minutes=90))
    assert queue_forecasts(behind, now) == {
        behind[0].pk: (2, now + timedelta(minutes=90)),
        behind[1].pk: (3, now + timedelta(minutes=90)),
    }
    assert next_in_queue(project, now) == (4, now + timedelta(minutes=90))


@pytest.mark.django_db
def test_a_job_no_longer_queued_has_no_forecast(project, bob, django_assert_num_queries):
    now = timezone.now()
    first, second = [make_job(project, bob, volume_id=f"vol-{n}") for n in range(2)]
    # A worker took the first job since the page read it: the second is next.
    ImageJob.objects.filter(pk=first.pk).update(state=JobState.SUBMITTING)
    assert first.state == JobState.QUEUED
    assert queue_forecasts([first, second], now) == {second.pk: (1, now)}
    second.state = JobState.CANCELLED
    with django_assert_num_queries(0):
        assert queue_forecasts([second]) == {}


@pytest.mark.django_db
def test_a_new_job_stands_behind_the_queue(project, bob):
    now = timezone.now()
    assert next_in_queue(project, now) == (1, now)
    jobs = [make_job(project, bob, volume_id=f"vol-{n}") for n in range(4)]
    UploadAttempt.objects.create(project=project, job=jobs[0], sent_at=now - timedelta(minutes=45))
    # Three slots are free now, the fourth in 15 minutes: the new job waits for the first of
    # them to come back, an hour from now.
    assert next_in_queue(project, now) == (5, now + timedelta(hours=1))


@pytest.mark.django_db
@pytest.mark.parametrize("ahead", [5, 200])
def test_the_forecast_costs_the_same_queries_however_long_the_queue(
    project, other_project, bob, django_assert_num_queries, ahead
):
    now = timezone.now()
    crowd = queued_jobs(project, bob, ahead)
    ImageJob.objects.filter(pk=crowd[1].pk).update(not_before=now + timedelta(hours=3))
    UploadAttempt.objects.create(project=project, job=crowd[0], sent_at=now)
    page = [*queued_jobs(project, bob, 3), *queued_jobs(other_project, bob, 2)]

    with django_assert_num_queries(2):  # positions, then counted uploads
        forecast = queue_forecasts(page, now)
    assert [forecast[job.pk][0] for job in page] == [ahead + 1, ahead + 2, ahead + 3, 1, 2]
    # Held up by the job K5 told to wait, though not asked about.
    assert forecast[page[0].pk][1] >= now + timedelta(hours=3)
    with django_assert_num_queries(3):  # queued count, waiting jobs, counted uploads
        assert next_in_queue(project, now)[0] == ahead + 4
