"""Schedules: a 5-field cron in the schedule's time zone (a bad one refused naming the field),
run by the tick — claimed once across hosts, missed times run once on recovery, none while
paused — each run a batch whose busy volumes are skipped and recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone, translation

from imaging.engine import schedules
from imaging.engine.batches import summarize
from imaging.engine.errors import Refusal
from imaging.engine.schedules import ScheduleRequest, create_schedule, run_due, set_enabled
from imaging.models import Batch, BatchState, ImageJob, JobEvent, JobState, Schedule
from tests.support.demo import CENTOS_WEB, UBUNTU_APP
from tests.support.jobs import make_job


def every_minute(project, **options) -> ScheduleRequest:
    fields = {
        "project": project,
        "name": "nightly",
        "volume_ids": [CENTOS_WEB, UBUNTU_APP],
        "cron": "* * * * *",
        "time_zone": "UTC",
        "image_name_template": "{volume}-{date}-{time}",
        "keep": 2,
        "preparation_confirmed": True,
        **options,
    }
    return ScheduleRequest(**fields)


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("* * * *", "has 4"),
        ("* * * * * *", "has 6"),
        ("61 * * * *", "minute field '61'"),
        ("0 25 * * *", "hour field '25'"),
        ("0 3 32 * *", "day of month field '32'"),
        ("0 3 * 13 *", "month field '13'"),
        ("0 3 * * funday", "day of week field 'funday'"),
        ("0 3 30 2 *", "never matches"),
    ],
)
@pytest.mark.django_db
def test_a_bad_cron_is_refused_naming_the_field_and_what_is_wrong(project, bob, cron, words):
    with pytest.raises(Refusal) as refused:
        create_schedule(every_minute(project, cron=cron), user=bob, channel="api")
    assert (refused.value.code, refused.value.field) == ("invalid", "cron")
    assert words in refused.value.message
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_the_cron_is_read_in_the_schedules_time_zone(project, bob):
    schedule = create_schedule(
        every_minute(project, cron="0 3 * * *", time_zone="Asia/Tokyo"), user=bob, channel="api"
    )
    assert schedule.next_run_at is not None
    assert schedule.next_run_at.astimezone(UTC).hour == 18, "03:00 in Tokyo is 18:00 UTC"
    with pytest.raises(Refusal) as refused:
        create_schedule(
            every_minute(project, name="x", time_zone="Mars/Olympus"), user=bob, channel="api"
        )
    assert refused.value.field == "timezone"


@pytest.mark.django_db
def test_a_viewer_cannot_create_a_schedule_and_keep_is_at_least_one(project, victor, bob):
    with pytest.raises(Refusal) as refused:
        create_schedule(every_minute(project), user=victor, channel="api")
    assert refused.value.code == "forbidden"
    with pytest.raises(Refusal) as refused:
        create_schedule(every_minute(project, keep=0), user=bob, channel="api")
    assert refused.value.field == "keep"


@pytest.mark.django_db
def test_times_missed_while_down_run_once_then_the_next_time_is_in_the_future(project, bob):
    schedule = create_schedule(every_minute(project), user=bob, channel="api")
    now = timezone.now().replace(second=30, microsecond=0)
    # The portal was down: the last time it saw was three minutes ago.
    Schedule.objects.filter(pk=schedule.pk).update(
        next_run_at=now - timedelta(minutes=3, seconds=30)
    )

    [batch] = run_due(now)

    assert batch.missed_runs == 3, "4 times were due; one run stands for them"
    assert batch.due_at == now.replace(second=0), "named after the latest of them"
    schedule.refresh_from_db()
    assert schedule.next_run_at == now.replace(second=0) + timedelta(minutes=1)
    assert run_due(now) == [], "nothing more is due"
    assert Batch.objects.count() == 1
    story = JobEvent.objects.filter(actor_name="schedule:nightly").last()
    assert "4 times had passed while the portal was not running; they are run once" in story.message


@pytest.mark.django_db
def test_two_hosts_never_both_run_one_time(project, bob):
    schedule = create_schedule(every_minute(project), user=bob, channel="api")
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now())
    stale = Schedule.objects.get(pk=schedule.pk)  # what each host read
    now = timezone.now()
    assert schedules._start_run(stale, now) is not None
    assert schedules._start_run(stale, now) is None, "the second claim finds it moved on"
    assert Batch.objects.count() == 1


@pytest.mark.django_db
def test_a_paused_schedule_makes_no_run_and_resumes_from_the_next_time(project, bob):
    schedule = create_schedule(every_minute(project), user=bob, channel="api")
    set_enabled(schedule, bob, False)
    later = timezone.now() + timedelta(minutes=5)
    assert run_due(later) == []
    set_enabled(schedule, bob, True)
    schedule.refresh_from_db()
    assert timezone.now() < schedule.next_run_at <= timezone.now() + timedelta(minutes=1)


@pytest.mark.django_db
def test_only_the_creator_or_an_admin_pauses_a_schedule(project, bob, dana, alice):
    schedule = create_schedule(every_minute(project), user=bob, channel="api")
    with pytest.raises(Refusal) as refused:
        set_enabled(schedule, dana, False)
    assert refused.value.code == "forbidden"
    assert set_enabled(schedule, alice, False).enabled is False


@pytest.mark.django_db
def test_a_run_queues_a_job_per_volume_and_skips_a_busy_one(k5sim, project, bob):
    busy = make_job(project, bob, volume_id=UBUNTU_APP, image_name="by-hand")
    schedule = create_schedule(every_minute(project), user=bob, channel="api")
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now())
    [batch] = run_due()

    assert schedules.prepare_run(batch.pk) == "1 job(s) queued, 1 skipped"

    batch.refresh_from_db()
    [job] = batch.jobs.all()
    assert job.volume_id == CENTOS_WEB and job.requested_by == bob
    [skipped] = batch.refused
    assert (skipped["volume_id"], skipped["code"]) == (UBUNTU_APP, "volume_busy")
    assert busy.state == JobState.QUEUED and ImageJob.objects.count() == 2
    assert JobEvent.objects.filter(
        actor_name="schedule:nightly", message__contains="1 volume(s) skipped"
    ).exists()
    assert schedules.prepare_run(batch.pk) == "already prepared"


@pytest.mark.django_db
def test_a_skipped_volume_and_why_read_in_the_readers_language(k5sim, project, bob):
    make_job(project, bob, volume_id=UBUNTU_APP, image_name="by-hand")
    schedule = create_schedule(every_minute(project), user=bob, channel="api")
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now())
    [batch] = run_due()
    schedules.prepare_run(batch.pk)

    event = JobEvent.objects.get(actor_name="schedule:nightly", code="schedule.volumes_skipped")
    batch.refresh_from_db()
    with translation.override("en"):
        english, [reason_en] = event.text, [row["text"] for row in batch.refusals]
    with translation.override("ja"):
        japanese, [reason_ja] = event.text, [row["text"] for row in batch.refusals]
    assert reason_en == (
        "Another image job for this volume is still running; wait for it to end or cancel it."
    )
    assert reason_ja == (
        "このボリュームの別のイメージ作成ジョブが実行中です。終了を待つか、キャンセルしてください。"
    )
    assert english == f"Batch {batch.pk}: 1 volume(s) skipped: ubuntu-app-01 ({reason_en})"
    assert japanese == (
        f"バッチ {batch.pk}: 1 個のボリュームをスキップしました: ubuntu-app-01（{reason_ja}）"
    )
    assert event.message == english, "the English kept for the logs"


@pytest.mark.django_db
def test_a_run_whose_creator_lost_the_member_role_is_recorded_not_queued(project, bob):
    schedule = create_schedule(every_minute(project), user=bob, channel="api")
    bob.k5_memberships.update(role="viewer")
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now())
    [batch] = run_due()
    schedules.prepare_run(batch.pk)
    batch.refresh_from_db()
    assert not batch.jobs.exists()
    assert {r["code"] for r in batch.refused} == {"forbidden"}
    assert summarize(batch).state == BatchState.FAILED


def test_next_time_follows_the_zones_daylight_saving():
    zone = schedules.ZoneInfo("Europe/Berlin")
    winter = schedules.next_time("0 3 * * *", zone, datetime(2026, 1, 10, tzinfo=UTC))
    summer = schedules.next_time("0 3 * * *", zone, datetime(2026, 7, 10, tzinfo=UTC))
    assert (winter.hour, summer.hour) == (2, 1)
