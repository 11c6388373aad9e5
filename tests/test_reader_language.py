"""Every sentence the portal writes about a job reads in its reader's language: a job through
a sync failure and its remedy, and a job whose upload K5 killed, read by a Japanese member
(API with Accept-Language: ja, the job page, the CSV export, the e-mail) and by an English
one — the `code` the same for both, K5's own words verbatim and marked as K5's."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from django.conf import settings
from django.test import Client

from imaging.engine.notifications import notify_job_finished
from imaging.engine.remedy import retry_job
from imaging.messages import render
from imaging.models import ApiToken, JobState, Preference
from tests.engine.test_lifecycle import UPLOAD_SECONDS, through_upload_and_sync
from tests.support.demo import CENTOS_WEB
from tests.support.jobs import poll, run_to_uploading, submit

SETTLE = settings.ENGINE_SYNC_SETTLE_BASE_SECONDS + 30 * settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB
KANA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def japanese(text: str) -> bool:
    return bool(KANA.search(text))


def api_events(user, job, language: str) -> list[dict]:
    _token, key = ApiToken.issue(user, "tests")
    client = Client()
    headers = {"Authorization": f"Token {key}", "Accept-Language": language}
    listed = client.get(f"/api/v1/jobs/{job.pk}/events/", headers=headers).json()
    events = listed["results"]
    while listed.get("next"):
        listed = client.get(listed["next"], headers=headers).json()
        events += listed["results"]
    error = client.get(f"/api/v1/jobs/{job.pk}/", headers=headers).json()["error"]
    return events, error


def job_page(user, job, language: str) -> str:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return unescape(client.get(f"/jobs/{job.pk}/").content.decode())


def csv_export(user) -> list[dict]:
    client = Client()
    client.force_login(user)
    response = client.get("/audit/", {"export": "csv"})
    return list(csv.DictReader(io.StringIO(response.getvalue().decode()[1:])))


@pytest.fixture
def sync_failed_and_remedied(k5sim, project, bob):
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    job = through_upload_and_sync(k5sim, project, submit(project, bob))
    assert job.state == JobState.SYNC_FAILED
    retry = retry_job(job, bob, channel="web")
    through_upload_and_sync(k5sim, project, retry, later=SETTLE + 1)
    job.refresh_from_db()
    return job


@pytest.fixture
def upload_killed(k5sim, project, bob):
    k5sim.add_fault(kind="upload_failure", volume_id=CENTOS_WEB)
    job = run_to_uploading(project, submit(project, bob))
    k5sim.advance(UPLOAD_SECONDS + 10)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    return job


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["sync_failed_and_remedied", "upload_killed"])
def test_a_japanese_member_reads_the_whole_story_in_japanese_and_an_english_one_in_english(
    request, which, bob, dana
):
    job = request.getfixturevalue(which)
    Preference.objects.create(user=bob, language="ja", time_zone="Asia/Tokyo")
    Preference.objects.create(user=dana, language="en", time_zone="UTC")

    ja_events, ja_error = api_events(bob, job, "ja")
    en_events, en_error = api_events(dana, job, "en")
    assert [e["code"] for e in ja_events] == [e["code"] for e in en_events]
    assert all(e["code"] for e in ja_events), "every event of the engine has its code"
    for ja, en in zip(ja_events, en_events, strict=True):
        if ja["kind"] == "k5_call":  # "POST /v3/… → HTTP 202" reads the same in both
            continue
        assert japanese(ja["message"]), ja
        assert not japanese(en["message"]), en
    assert ja_error["code"] == en_error["code"] != ""
    assert japanese(ja_error["message"]) and not japanese(en_error["message"])

    page = job_page(bob, job, "ja")
    assert render(job.error_code, job.error_params, "ja") in page
    for event in job.events.exclude(kind="k5_call"):
        english = render(event.code, event.params, "en")
        assert english not in page, english

    rows = csv_export(bob)
    ours = [row for row in rows if row["job"] == str(job.pk) and row["kind"] != "k5_call"]
    assert ours and all(japanese(row["message"]) for row in ours)
    assert all(row["created_at"].endswith("+09:00") for row in ours), "in bob's zone"
    assert {row["code"] for row in ours} <= {e["code"] for e in en_events}


@pytest.mark.django_db
def test_k5s_own_words_stay_k5s_and_are_marked_as_such(sync_failed_and_remedied, bob):
    job = sync_failed_and_remedied
    event = job.events.get(to_state=JobState.SYNC_FAILED)
    reason = event.params["sync_status_reason"]
    assert reason.startswith("ERROR:")
    assert f"「K5 の応答: {reason}」" in render(event.code, event.params, "ja")
    assert f"K5 says: {reason}" in render(event.code, event.params, "en")


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["sync_failed_and_remedied", "upload_killed"])
def test_the_e_mail_reads_in_the_recipients_saved_language(request, which, bob, mailoutbox):
    job = request.getfixturevalue(which)
    mailoutbox.clear()
    Preference.objects.create(user=bob, language="ja", time_zone="Asia/Tokyo")
    notify_job_finished(job.pk)
    mail = mailoutbox[-1]
    assert japanese(mail.subject)
    assert render(job.error_code, job.error_params, "ja") in mail.body
    assert "JST" in mail.body, "the time in bob's zone"

    Preference.objects.filter(user=bob).update(language="en", time_zone="UTC")
    notify_job_finished(job.pk)
    mail = mailoutbox[-1]
    assert not japanese(mail.subject + mail.body)
    assert render(job.error_code, job.error_params, "en") in mail.body
