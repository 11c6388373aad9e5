"""Retention: after a schedule's job succeeds, the images that schedule made for that volume
beyond the newest `keep` succeeded ones are deleted — looked up by id first, recorded with the
schedule as the actor — and never anything else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.engine.retention import after_success, dry_run, prune
from imaging.models import Batch, EventKind, ImageJob, JobEvent, JobState, Schedule
from tests.support.demo import CENTOS_WEB, OLD_IMAGE, UBUNTU_APP, demo_scenario, img
from tests.support.jobs import make_job, make_schedule


def seed_images(k5sim, images: dict[str, dict]) -> None:
    """The demo scenario plus demo-project-1 images {id: {name, status?, protected?}}."""
    scenario = demo_scenario()
    template = next(i for i in scenario["images"] if i["id"] == OLD_IMAGE)
    for image_id, fields in images.items():
        scenario["images"].append(
            {**template, "id": image_id, "status": "active", "protected": False, **fields}
        )
    k5sim.reset(scenario=scenario)


def in_k5(k5sim) -> set[str]:
    return {image["id"] for image in k5sim.state()["images"]}


@pytest.fixture
def schedule(project, bob):
    return make_schedule(project, bob)


def scheduled_job(schedule, user, n, *, volume_id=CENTOS_WEB, state=JobState.SUCCEEDED, **fields):
    """The schedule's run n (older runs first) made this job."""
    batch = Batch.objects.create(
        project=schedule.project,
        schedule=schedule,
        image_name_template=schedule.image_name_template,
        requested_by_name="bob",
        prepared_at=timezone.now(),
    )
    fields.setdefault("image_id", img(100 + n + (50 if volume_id != CENTOS_WEB else 0)))
    return make_job(
        schedule.project,
        user,
        volume_id=volume_id,
        image_name=f"run-{n}-{volume_id[-2:]}",
        state=state,
        batch=batch,
        created_at=timezone.now() - timedelta(days=10 - n),
        **fields,
    )


@pytest.mark.django_db
def test_it_deletes_the_images_beyond_the_newest_keep_and_records_each(k5sim, schedule, bob):
    jobs = [scheduled_job(schedule, bob, n) for n in range(1, 5)]
    seed_images(k5sim, {job.image_id: {"name": job.image_name} for job in jobs})

    assert [job.pk for job in dry_run(schedule)] == [jobs[2].pk, jobs[1].pk, jobs[0].pk], (
        "the next run's image and the newest one are the two kept"
    )
    result = after_success(jobs[-1].pk)

    assert result == "deleted 2, already gone 0, kept 0"
    assert in_k5(k5sim) >= {jobs[2].image_id, jobs[3].image_id}
    assert not in_k5(k5sim) & {jobs[0].image_id, jobs[1].image_id}
    for job in jobs[:2]:
        job.refresh_from_db()
        assert job.image_deleted_at is not None
        event = JobEvent.objects.get(job=job, kind=EventKind.ACTION, actor_name="schedule:weekly")
        assert event.detail["image_id"] == job.image_id
        assert event.detail["image_name"] == job.image_name
        assert f"Deleted image {job.image_id} (“{job.image_name}”)" in event.message
    deletes = [e for e in k5sim.requests_log() if e["method"] == "DELETE"]
    gets = [e for e in k5sim.requests_log() if e["method"] == "GET" and "/v2/images/" in e["path"]]
    assert len(deletes) == 2 and len(gets) == 2, "each looked up by id before it is deleted"


@pytest.mark.django_db
def test_it_never_deletes_the_image_of_a_job_that_did_not_succeed(k5sim, schedule, bob):
    failed = scheduled_job(schedule, bob, 1, state=JobState.SYNC_FAILED)
    jobs = [scheduled_job(schedule, bob, n) for n in range(2, 5)]
    seed_images(k5sim, {job.image_id: {"name": job.image_name} for job in [failed, *jobs]})

    prune(schedule, CENTOS_WEB)

    assert failed.image_id in in_k5(k5sim)
    assert jobs[0].image_id not in in_k5(k5sim), "the one succeeded image beyond the keep"


@pytest.mark.django_db
def test_it_never_deletes_a_protected_image(k5sim, schedule, bob):
    jobs = [scheduled_job(schedule, bob, n) for n in range(1, 4)]
    seed_images(
        k5sim,
        {
            jobs[0].image_id: {"name": jobs[0].image_name, "protected": True},
            **{job.image_id: {"name": job.image_name} for job in jobs[1:]},
        },
    )
    result = prune(schedule, CENTOS_WEB)
    assert result.kept == [jobs[0].image_id] and result.deleted == []
    assert jobs[0].image_id in in_k5(k5sim)
    assert JobEvent.objects.filter(job=jobs[0], message__contains="protected").exists()


@pytest.mark.django_db
def test_it_never_deletes_images_of_another_schedule_or_volume_or_a_persons_job(
    k5sim, schedule, bob
):
    other = Schedule.objects.create(
        project=schedule.project,
        name="other",
        volume_ids=[CENTOS_WEB],
        cron="0 4 * * *",
        image_name_template="x",
        keep=1,
        created_by_name="bob",
    )
    theirs = scheduled_job(other, bob, 1, image_id=img(201))
    by_hand = make_job(
        schedule.project,
        bob,
        image_name="by-hand",
        state=JobState.SUCCEEDED,
        image_id=img(202),
        created_at=timezone.now() - timedelta(days=30),
    )
    other_volume = scheduled_job(schedule, bob, 1, volume_id=UBUNTU_APP)
    jobs = [scheduled_job(schedule, bob, n) for n in range(2, 4)]
    everything = [theirs, by_hand, other_volume, *jobs]
    seed_images(k5sim, {job.image_id: {"name": job.image_name} for job in everything})

    assert prune(schedule, CENTOS_WEB).deleted == []
    assert in_k5(k5sim) >= {job.image_id for job in everything}


@pytest.mark.django_db
def test_an_image_already_gone_is_recorded_and_not_deleted(k5sim, schedule, bob):
    jobs = [scheduled_job(schedule, bob, n) for n in range(1, 4)]
    seed_images(k5sim, {job.image_id: {"name": job.image_name} for job in jobs[1:]})

    result = prune(schedule, CENTOS_WEB)

    assert result.gone == [jobs[0].image_id]
    assert not [e for e in k5sim.requests_log() if e["method"] == "DELETE"]
    jobs[0].refresh_from_db()
    assert jobs[0].image_deleted_at is not None
    assert JobEvent.objects.filter(job=jobs[0], message__contains="already gone").exists()


@pytest.mark.django_db
def test_when_k5_cannot_be_asked_nothing_is_deleted_and_it_is_tried_after_the_next_success(
    k5sim, schedule, bob
):
    jobs = [scheduled_job(schedule, bob, n) for n in range(1, 5)]
    seed_images(k5sim, {job.image_id: {"name": job.image_name} for job in jobs})
    # The second look-up fails: the first candidate, found, is not deleted either.
    k5sim.add_fault(
        kind="http", method="GET", path=f"/images/{jobs[1].image_id}$", status=503, times=None
    )

    result = prune(schedule, CENTOS_WEB)

    assert result.postponed and result.deleted == []
    assert in_k5(k5sim) >= {job.image_id for job in jobs}
    assert not ImageJob.objects.filter(image_deleted_at__isnull=False).exists()
    assert JobEvent.objects.filter(message__startswith="Retention postponed").exists()

    k5sim.control("DELETE", "faults")
    assert len(prune(schedule, CENTOS_WEB).deleted) == 2
