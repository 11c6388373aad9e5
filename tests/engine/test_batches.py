"""A batch: one job per volume, each checked as a single submission is, paced like any other
(4 now, the rest an hour apart); names from a template checked before anything is queued;
cancel and retry-failed act only on what they should."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from imaging.engine.batches import (
    BatchRefused,
    BatchRequest,
    cancel_batch,
    create_batch,
    retry_failed,
    summarize,
)
from imaging.engine.errors import Refusal
from imaging.engine.pacing import start_due_uploads
from imaging.models import BatchState, ImageJob, JobState, Preference
from tests.support.demo import CENTOS_BROKEN, CENTOS_WEB, UBUNTU_APP


def bulk_volumes(k5sim, project, count, prefix="node-"):
    created = k5sim.control(
        "POST",
        f"projects/{project.k5_project_id}/volumes",
        json={"count": count, "size": 1, "os": "centos", "name_prefix": prefix},
    ).json()
    return created["ids"]


def request(project, volume_ids, template="{volume}-img", **options):
    return BatchRequest(
        project=project,
        volume_ids=list(volume_ids),
        image_name_template=template,
        preparation_confirmed=True,
        **options,
    )


@pytest.mark.django_db
def test_a_batch_of_ten_sends_four_and_queues_six_an_hour_and_two_hours_away(k5sim, project, bob):
    volumes = bulk_volumes(k5sim, project, 10)
    batch = create_batch(request(project, volumes), user=bob, channel="api")
    assert batch.jobs.count() == 10 and batch.refused == []

    now = timezone.now()
    started = start_due_uploads(project, now)  # what the tick does next
    assert len(started) == 4

    summary = summarize(batch, now)
    assert summary.state == BatchState.RUNNING
    assert summary.counts == {JobState.SUBMITTING: 4, JobState.QUEUED: 6}
    starts = sorted(start for _position, start in summary.forecasts.values())
    assert starts == [now + timedelta(hours=1)] * 4 + [now + timedelta(hours=2)] * 2
    last = max(
        summary.forecasts[job.pk][1] + timedelta(seconds=job.expected_seconds)
        for job in summary.current
        if job.pk in summary.forecasts
    )
    assert summary.expected_end >= last >= now + timedelta(hours=2)


@pytest.mark.django_db
def test_names_come_from_the_template_in_the_requesters_time_zone(k5sim, project, bob, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    volumes = bulk_volumes(k5sim, project, 2, prefix="web-")
    when = timezone.now().replace(year=2026, month=3, day=1, hour=23, minute=30, second=0)
    batch = create_batch(
        request(project, volumes, "{volume}-{date}-{time}-{seq}"),
        user=bob,
        channel="web",
        when=when,
    )
    names = list(batch.jobs.order_by("image_name").values_list("image_name", flat=True))
    local = timezone.localtime(when)
    stamp = f"{local:%Y%m%d}-{local:%H%M}"
    assert stamp == "20260302-0830", "23:30 UTC is 08:30 the next day in Tokyo"
    first, second = (k5sim.volume(volume_id)["name"] for volume_id in volumes)
    assert names == [f"{first}-{stamp}-1", f"{second}-{stamp}-2"]


@pytest.mark.django_db
def test_a_tools_batch_is_named_in_its_users_saved_time_zone(k5sim, project, bob, settings):
    settings.TIME_ZONE = "UTC"
    Preference.objects.create(user=bob, language="ja", time_zone="Asia/Tokyo")
    [volume] = bulk_volumes(k5sim, project, 1, prefix="db-")
    when = datetime(2026, 12, 6, 20, 15, tzinfo=UTC)
    batch = create_batch(
        request(project, [volume], "{volume}-{date}-{time}"), user=bob, channel="api", when=when
    )
    [name] = batch.jobs.values_list("image_name", flat=True)
    assert name.endswith("-20261207-0515"), name


@pytest.mark.django_db
def test_a_template_that_makes_two_equal_names_is_refused_before_anything_is_queued(
    k5sim, project, bob
):
    with pytest.raises(Refusal) as refused:
        create_batch(
            request(project, [CENTOS_WEB, UBUNTU_APP], "golden-{date}"), user=bob, channel="api"
        )
    assert refused.value.code == "image_name_duplicate"
    assert refused.value.field == "image_name_template"
    assert ImageJob.objects.count() == 0
    assert not k5sim.logged("GET", "/image/v2/images"), "refused before any volume was checked"


@pytest.mark.parametrize(
    ("template", "words"),
    [("", "required"), ("{name}", "{name}"), ("{volume:>5}", "{volume}"), ("{volume", "{{")],
)
@pytest.mark.django_db
def test_a_template_with_an_unknown_placeholder_is_refused(project, bob, template, words):
    with pytest.raises(Refusal) as refused:
        create_batch(request(project, [CENTOS_WEB], template), user=bob, channel="api")
    assert refused.value.field == "image_name_template"
    assert words in refused.value.message


@pytest.mark.django_db
def test_a_volume_that_fails_its_checks_is_listed_and_the_rest_go_on(k5sim, project, bob):
    batch = create_batch(request(project, [CENTOS_WEB, CENTOS_BROKEN]), user=bob, channel="api")
    assert list(batch.jobs.values_list("volume_id", flat=True)) == [CENTOS_WEB]
    [refused] = batch.refused
    assert (refused["volume_id"], refused["code"]) == (CENTOS_BROKEN, "volume_not_ready")
    assert "The volume is error" in refused["message"]


@pytest.mark.django_db
def test_all_or_nothing_queues_nothing_when_one_volume_fails(k5sim, project, bob):
    with pytest.raises(BatchRefused) as refused:
        create_batch(
            request(project, [CENTOS_WEB, CENTOS_BROKEN], all_or_nothing=True),
            user=bob,
            channel="api",
        )
    assert [r["volume_id"] for r in refused.value.refused] == [CENTOS_BROKEN]
    assert ImageJob.objects.count() == 0


@pytest.mark.django_db
def test_a_viewer_cannot_make_a_batch(project, victor):
    with pytest.raises(Refusal) as refused:
        create_batch(request(project, [CENTOS_WEB]), user=victor, channel="api")
    assert refused.value.code == "forbidden"
    assert ImageJob.objects.count() == 0


@pytest.mark.django_db
def test_cancel_cancels_only_the_jobs_not_sent(k5sim, project, bob):
    volumes = bulk_volumes(k5sim, project, 6)
    batch = create_batch(request(project, volumes), user=bob, channel="api")
    sent = {job.pk for job in start_due_uploads(project)}

    cancelled = cancel_batch(batch, bob)

    assert {job.pk for job in cancelled} == set(batch.jobs.values_list("pk", flat=True)) - sent
    states = dict(batch.jobs.values_list("pk", "state"))
    assert {states[pk] for pk in sent} == {JobState.SUBMITTING}
    assert sum(state == JobState.CANCELLED for state in states.values()) == 2
    with pytest.raises(Refusal) as again:
        cancel_batch(batch, bob)
    assert again.value.code == "not_allowed"


@pytest.mark.django_db
def test_only_the_requester_or_an_admin_may_cancel_a_batch(k5sim, project, bob, dana, alice):
    batch = create_batch(request(project, [CENTOS_WEB]), user=bob, channel="api")
    with pytest.raises(Refusal) as refused:
        cancel_batch(batch, dana)
    assert refused.value.code == "forbidden"
    assert [job.state for job in cancel_batch(batch, alice)] == [JobState.CANCELLED]


@pytest.mark.django_db
def test_retry_failed_retries_only_the_failed_and_sync_failed_jobs(k5sim, project, bob):
    volumes = bulk_volumes(k5sim, project, 4)
    batch = create_batch(request(project, volumes), user=bob, channel="api")
    jobs = list(batch.jobs.order_by("pk"))
    outcomes = [JobState.FAILED, JobState.SYNC_FAILED, JobState.SUCCEEDED, JobState.CANCELLED]
    for job, state in zip(jobs, outcomes, strict=True):
        ImageJob.objects.filter(pk=job.pk).update(state=state, finished_at=timezone.now())

    retried = retry_failed(batch, bob, channel="api")

    assert sorted(r.old.pk for r in retried) == [jobs[0].pk, jobs[1].pk]
    assert all(r.new is not None and r.new.batch_id == batch.pk for r in retried)
    summary = summarize(batch)
    assert summary.counts == {
        JobState.QUEUED: 2,
        JobState.SUCCEEDED: 1,
        JobState.CANCELLED: 1,
    }, "a retry stands for the job it retries"
    with pytest.raises(Refusal) as again:
        retry_failed(batch, bob, channel="api")
    assert again.value.code == "not_allowed", "each failed job is retried once"
