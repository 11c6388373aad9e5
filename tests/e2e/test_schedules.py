"""A schedule run by real clusters against the simulator, in wall-clock minutes: every minute,
keeping 2 images of each of two volumes, it runs at least four times; K5 then holds exactly
the two newest images per volume and every deletion is in the audit history; a paused
schedule makes no job; and with the portal's workers stopped for three minutes, the times
missed are run once when they come back.

One test, since each promise costs minutes of real time (about 5 in all): the first run, the
three minutes down, the run on recovery and the next two.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.engine.schedules import ScheduleRequest, create_schedule
from imaging.models import Batch, EventKind, ImageJob, JobEvent, JobState, Schedule
from tests.support.demo import CENTOS_WEB, RHEL_DB, UBUNTU_APP
from tests.support.workers import wait_for

DOWN_SECONDS = 180
VOLUMES = [CENTOS_WEB, UBUNTU_APP]


def ended_runs(schedule: Schedule) -> list[Batch]:
    """The schedule's runs whose jobs have all ended (oldest first)."""
    runs = list(Batch.objects.filter(schedule=schedule, prepared_at__isnull=False).order_by("pk"))
    return [
        run
        for run in runs
        if run.jobs.exists() and not run.jobs.exclude(state__in=[JobState.SUCCEEDED]).exists()
    ]


def images_of(sim, volume_name: str) -> set[str]:
    """The images of the schedule's names for the volume (the demo has others, by hand)."""
    made = re.compile(rf"{re.escape(volume_name)}\d{{8}}-\d{{4}}")
    return {image["id"] for image in sim.state()["images"] if made.fullmatch(image["name"])}


def newest_two(schedule: Schedule, volume_id: str) -> set[str]:
    jobs = ImageJob.objects.filter(
        batch__schedule=schedule, volume_id=volume_id, state=JobState.SUCCEEDED
    ).order_by("-created_at", "-id")[:2]
    return {job.image_id for job in jobs}


def pruned(sim, schedule: Schedule) -> bool:
    """K5 holds exactly the two newest images the schedule made of each volume."""
    return all(
        images_of(sim, name) == newest_two(schedule, volume_id)
        for volume_id, name in ((CENTOS_WEB, "centos-web-01-"), (UBUNTU_APP, "ubuntu-app-01-"))
    )


@pytest.mark.timeout(600)  # minutes of cron times, three of them with the workers down
@pytest.mark.django_db(transaction=True)
def test_a_schedule_keeps_the_two_newest_images_and_runs_missed_times_once(
    sim, project, bob, workers
):
    schedule = create_schedule(
        ScheduleRequest(
            project=project,
            name="every-minute",
            volume_ids=VOLUMES,
            cron="* * * * *",
            time_zone="UTC",
            image_name_template="{volume}-{date}-{time}",
            keep=2,
            preparation_confirmed=True,
        ),
        user=bob,
        channel="api",
    )
    paused = create_schedule(
        ScheduleRequest(
            project=project,
            name="paused",
            volume_ids=[RHEL_DB],
            cron="* * * * *",
            time_zone="UTC",
            image_name_template="{volume}-{date}-{time}",
            keep=1,
            preparation_confirmed=True,
            enabled=False,
        ),
        user=bob,
        channel="api",
    )
    workers.start("before")
    tick = workers.ticker()
    wait_for(lambda: ended_runs(schedule), kick=tick, timeout=120, what="the first run")

    # The portal's workers stop for three minutes: no tick, no run.
    workers.stop_all()
    stopped = timezone.now()
    time.sleep(DOWN_SECONDS)
    assert not Batch.objects.filter(created_at__gt=stopped).exists()

    workers.start("after")
    tick = workers.ticker()
    wait_for(
        lambda: len(ended_runs(schedule)) >= 4 and pruned(sim, schedule),
        kick=tick,
        timeout=200,
        what="four runs and their retention",
    )

    runs = list(Batch.objects.filter(schedule=schedule).order_by("pk"))
    after = [run for run in runs if run.created_at > stopped]
    recovery = after[0]
    assert recovery.missed_runs >= 2, "three minutes of times, run once"
    assert recovery.due_at > stopped + timedelta(seconds=DOWN_SECONDS - 60)
    assert all(run.missed_runs == 0 for run in after[1:])
    assert len({run.due_at for run in runs}) == len(runs), "each time run at most once"
    assert sum(run.created_at < stopped + timedelta(seconds=DOWN_SECONDS) for run in after) <= 1

    # K5 holds exactly the two newest images of each volume ...
    assert pruned(sim, schedule)
    # ... and every image deleted is in the audit history, by the schedule, with id and name.
    deleted = ImageJob.objects.filter(batch__schedule=schedule, image_deleted_at__isnull=False)
    assert deleted.count() >= 2 * (len(ended_runs(schedule)) - 2)
    in_k5 = {image["id"] for image in sim.state()["images"]}
    for job in deleted:
        assert job.image_id not in in_k5
        event = JobEvent.objects.get(
            job=job,
            kind=EventKind.ACTION,
            actor_name="schedule:every-minute",
            message__startswith="Deleted image",
        )
        assert (event.detail["image_id"], event.detail["image_name"]) == (
            job.image_id,
            job.image_name,
        )
        assert event.detail["retention"] == "deleted"

    # A paused schedule makes no job.
    assert not Batch.objects.filter(schedule=paused).exists()
    assert not ImageJob.objects.filter(volume_id=RHEL_DB).exists()
