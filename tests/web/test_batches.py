"""The pages for many volumes: choose volumes on the volumes page and get a batch page that
counts its jobs by state; cancel and retry-failed there; a project's schedules, created,
paused and deleted from their pages, with the dry run of the next run's deletions."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone

from imaging.engine.batches import BatchRequest, create_batch
from imaging.engine.inventory import refresh_inventory
from imaging.engine.schedules import ScheduleRequest, create_schedule
from imaging.models import Batch, ImageJob, JobState, Schedule
from tests.support.demo import CENTOS_BROKEN, CENTOS_WEB, UBUNTU_APP
from tests.web.page import Page


@pytest.fixture
def listed(project):
    refresh_inventory(project)
    return project


@pytest.mark.django_db
def test_a_member_chooses_volumes_and_follows_the_batch(signed_in, listed, bob):
    browser = signed_in(bob)
    page = browser.get(f"/projects/{listed.pk}/volumes/").content.decode()
    assert 'name="volume_ids"' in page and 'id="batch-form"' in page
    assert f'value="{CENTOS_BROKEN}" form="batch-form"' not in page, "only eligible ones"

    response = browser.post(
        f"/projects/{listed.pk}/batches/new/",
        {
            "volume_ids": [CENTOS_WEB, UBUNTU_APP],
            "image_name_template": "{volume}-{seq}",
            "preparation_confirmed": "1",
        },
    )
    batch = Batch.objects.get()
    assert response["Location"] == f"/batches/{batch.pk}/"
    page = browser.get(f"/batches/{batch.pk}/").content.decode()
    assert "centos-web-01-1" in page and "ubuntu-app-01-2" in page
    assert 'data-state="queued"' in page and "Expected end" in page
    assert 'data-refresh="/batches/' in page
    partial = browser.get(f"/batches/{batch.pk}/?partial=1").content.decode()
    assert "<html" not in partial and "batch-jobs" in partial

    browser.post(f"/batches/{batch.pk}/cancel/")
    assert set(batch.jobs.values_list("state", flat=True)) == {JobState.CANCELLED}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "reason"),
    [
        ("en", "centos-broken-01: The volume is error: only an available volume"),
        ("ja", "centos-broken-01: ボリュームのステータスが error です。"),
    ],
)
def test_a_volume_not_queued_says_why_in_the_readers_language(
    signed_in, listed, bob, language, reason
):
    browser = signed_in(bob)
    browser.post(
        f"/projects/{listed.pk}/batches/new/",
        {
            "volume_ids": [CENTOS_WEB, CENTOS_BROKEN],
            "image_name_template": "{volume}-{seq}",
            "preparation_confirmed": "1",
            "force": "1",
        },
    )
    batch = Batch.objects.get()
    assert [row["code"] for row in batch.refused] == ["volume_not_ready"]

    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = Page(browser.get(f"/batches/{batch.pk}/"))
    [item] = page.main.one("section", cls="message").all("li")
    assert item.text.startswith(reason)


@pytest.mark.django_db
def test_a_refused_batch_says_why_on_the_volumes_page(signed_in, listed, bob):
    browser = signed_in(bob)
    response = browser.post(
        f"/projects/{listed.pk}/batches/new/",
        {
            "volume_ids": [CENTOS_WEB, UBUNTU_APP],
            "image_name_template": "same",
            "preparation_confirmed": "1",
        },
        follow=True,
    )
    assert "the same image name" in response.content.decode()
    assert not ImageJob.objects.exists()


@pytest.mark.django_db
def test_a_viewer_sees_no_batch_form_and_cannot_post_one(signed_in, listed, victor):
    browser = signed_in(victor)
    assert 'id="batch-form"' not in browser.get(f"/projects/{listed.pk}/volumes/").content.decode()
    response = browser.post(
        f"/projects/{listed.pk}/batches/new/",
        {"volume_ids": [CENTOS_WEB], "image_name_template": "x", "preparation_confirmed": "1"},
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_retry_failed_on_the_batch_page(signed_in, listed, bob):
    batch = create_batch(
        BatchRequest(listed, [CENTOS_WEB], "{volume}-x", preparation_confirmed=True),
        user=bob,
        channel="web",
    )
    ImageJob.objects.filter(batch=batch).update(state=JobState.FAILED, finished_at=timezone.now())
    browser = signed_in(bob)
    assert "Retry the failed jobs" in browser.get(f"/batches/{batch.pk}/").content.decode()
    browser.post(f"/batches/{batch.pk}/retry-failed/")
    assert batch.jobs.filter(state=JobState.QUEUED, retry_of__isnull=False).count() == 1


@pytest.mark.django_db
def test_a_member_creates_pauses_and_deletes_a_schedule(signed_in, listed, bob):
    browser = signed_in(bob)
    response = browser.post(
        f"/projects/{listed.pk}/schedules/",
        {
            "name": "weekly",
            "cron": "0 3 * * 1",
            "time_zone": "Asia/Tokyo",
            "image_name_template": "{volume}-{date}",
            "keep": "2",
            "preparation_confirmed": "on",
            "volume_ids": [CENTOS_WEB],
        },
    )
    schedule = Schedule.objects.get()
    assert response["Location"] == f"/schedules/{schedule.pk}/"
    page = browser.get(f"/schedules/{schedule.pk}/").content.decode()
    assert "What the next run would delete" in page and "Nothing." in page

    browser.post(f"/schedules/{schedule.pk}/action/", {"action": "pause"})
    schedule.refresh_from_db()
    assert not schedule.enabled and schedule.next_run_at is None
    browser.post(f"/schedules/{schedule.pk}/action/", {"action": "delete"})
    assert not Schedule.objects.exists()


@pytest.mark.django_db
def test_the_creator_changes_a_schedules_volumes_and_keep_on_its_page(
    signed_in, listed, bob, victor
):
    schedule = create_schedule(
        ScheduleRequest(
            listed, "weekly", [CENTOS_WEB], "0 3 * * 1", "Asia/Tokyo", "{volume}-{date}", 4, True
        ),
        user=bob,
        channel="web",
    )
    browser = signed_in(bob)
    page = browser.get(f"/schedules/{schedule.pk}/").content.decode()
    assert 'id="change-schedule"' in page
    assert f'value="{CENTOS_WEB}" checked' in page and f'value="{UBUNTU_APP}">' in page
    fields = {
        "change-name": "weekly",
        "change-cron": "0 3 * * 1",
        "change-time_zone": "Asia/Tokyo",
        "change-image_name_template": "{volume}-{date}",
        "change-keep": "2",
        "change-automation": "none",
        "volume_ids": [CENTOS_WEB, UBUNTU_APP],
    }

    refused = browser.post(f"/schedules/{schedule.pk}/", fields)
    assert refused.status_code == 200
    assert "Confirm that every volume is prepared" in refused.content.decode()
    schedule.refresh_from_db()
    assert (schedule.volume_ids, schedule.keep) == ([CENTOS_WEB], 4)

    saved = browser.post(
        f"/schedules/{schedule.pk}/", {**fields, "change-preparation_confirmed": "on"}
    )
    assert saved["Location"] == f"/schedules/{schedule.pk}/"
    schedule.refresh_from_db()
    assert (schedule.volume_ids, schedule.keep) == ([CENTOS_WEB, UBUNTU_APP], 2)

    viewer = signed_in(victor)
    assert 'id="change-schedule"' not in viewer.get(f"/schedules/{schedule.pk}/").content.decode()
    assert viewer.post(f"/schedules/{schedule.pk}/", fields).status_code == 403


@pytest.mark.django_db
def test_a_bad_cron_is_shown_next_to_its_field(signed_in, listed, bob):
    response = signed_in(bob).post(
        f"/projects/{listed.pk}/schedules/",
        {
            "name": "x",
            "cron": "0 3 * *",
            "time_zone": "UTC",
            "image_name_template": "{volume}",
            "keep": "1",
            "preparation_confirmed": "on",
            "volume_ids": [CENTOS_WEB],
        },
    )
    assert response.status_code == 200
    assert "A cron expression has 5 fields" in response.content.decode()
    assert not Schedule.objects.exists()
