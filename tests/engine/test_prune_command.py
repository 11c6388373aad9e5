"""manage.py prune: old ended jobs leave the database only after they are written to a JSON
Lines file that loads back; a dry run touches nothing; active jobs never go; old task results
go; successful task results are bounded by the queue's save limit anyway."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_q.models import Task

from imaging.models import (
    EventKind,
    ImageJob,
    JobEvent,
    JobState,
    SyncRole,
    UploadAttempt,
    ZoneSyncResult,
)

VOLUME = "10000000-0000-4000-8000-0000000000{:02d}"
DAYS = timedelta(days=1)


def old_job(project, user, n: int, state: str, *, age: timedelta, **fields) -> ImageJob:
    """A job as the engine leaves it, that ended (or, if active, was created) `age` ago."""
    when = timezone.now() - age
    job = ImageJob.objects.create(
        project=project,
        volume_id=VOLUME.format(n),
        image_name=f"image-{n}",
        state=state,
        volume={"id": VOLUME.format(n), "size": 1},
        volume_size_gb=1,
        preparation_confirmed="linux-network-settings-removed",
        requested_by=user,
        requested_by_name=user.get_username(),
        created_at=when - timedelta(minutes=10),
        finished_at=when if state not in (JobState.QUEUED, JobState.UPLOADING) else None,
        **fields,
    )
    ZoneSyncResult.objects.create(job=job, availability_zone="jp-east-1a", role=SyncRole.SOURCE)
    UploadAttempt.objects.create(project=project, job=job, sent_at=when - timedelta(minutes=9))
    job.record(EventKind.ACTION, f"Requested image-{n}.", actor=user)
    job.record(EventKind.NOTE, f"Ended {state}.")
    return job


def prune(*args: str) -> str:
    out = io.StringIO()
    call_command("prune", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(project, bob):
    """Two ended jobs from 40 days ago, one from 5 days ago, an active job from 40 days ago."""
    return {
        "old_success": old_job(project, bob, 1, JobState.SUCCEEDED, age=40 * DAYS),
        "old_failure": old_job(project, bob, 2, JobState.FAILED, age=41 * DAYS),
        "recent": old_job(project, bob, 3, JobState.SUCCEEDED, age=5 * DAYS),
        "old_but_active": old_job(project, bob, 4, JobState.UPLOADING, age=40 * DAYS),
    }


def cutoff() -> str:
    return (timezone.now() - 30 * DAYS).date().isoformat()


def test_a_dry_run_says_what_it_would_do_and_does_nothing(history, tmp_path):
    output = tmp_path / "export.jsonl"

    said = prune("--before", cutoff(), "--output", str(output))

    assert "ended before" in said and ": 2 (failed 1, succeeded 1)" in said
    assert "with 4 events, 2 zone results, 2 upload attempts" in said
    assert "Kept: 1 active jobs created before then (never pruned)." in said
    assert f"Dry run: nothing written or deleted. With --execute the jobs go to {output}" in said
    assert not output.exists()
    assert ImageJob.objects.count() == 4 and JobEvent.objects.count() == 8


def test_it_exports_then_deletes_old_ended_jobs_and_never_active_ones(history, tmp_path):
    output = tmp_path / "export.jsonl"

    said = prune("--before", cutoff(), "--output", str(output), "--execute")

    assert f"Exported 2 jobs (10 lines) to {output}." in said
    assert "Deleted 2 jobs, 4 events, 2 zone results, 2 upload attempts." in said
    remaining = set(ImageJob.objects.values_list("image_name", flat=True))
    assert remaining == {"image-3", "image-4"}  # the recent one and the old active one
    assert JobEvent.objects.count() == 4
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["model"] for row in rows] == [
        "imaging.imagejob",
        "imaging.imagejob",
        "imaging.zonesyncresult",
        "imaging.zonesyncresult",
        "imaging.uploadattempt",
        "imaging.uploadattempt",
        "imaging.jobevent",
        "imaging.jobevent",
        "imaging.jobevent",
        "imaging.jobevent",
    ]
    jobs = {row["fields"]["image_name"]: row for row in rows if row["model"] == "imaging.imagejob"}
    assert set(jobs) == {"image-1", "image-2"}
    assert jobs["image-2"]["fields"]["state"] == "failed"


def test_the_export_loads_back(history, tmp_path):
    output = tmp_path / "export.jsonl"
    events_before = list(JobEvent.objects.order_by("pk").values("pk", "message", "actor_name"))

    prune("--before", cutoff(), "--output", str(output), "--execute")
    call_command("loaddata", str(output), verbosity=0)

    assert ImageJob.objects.count() == 4
    assert list(JobEvent.objects.order_by("pk").values("pk", "message", "actor_name")) == (
        events_before
    )
    assert ZoneSyncResult.objects.count() == UploadAttempt.objects.count() == 4


def test_a_job_retried_by_a_kept_job_stays_and_a_chain_that_ended_long_ago_goes(
    project, bob, tmp_path
):
    original = old_job(project, bob, 1, JobState.SYNC_FAILED, age=60 * DAYS)
    recent_retry = old_job(project, bob, 2, JobState.SUCCEEDED, age=2 * DAYS, retry_of=original)
    old_original = old_job(project, bob, 3, JobState.FAILED, age=50 * DAYS)
    old_retry = old_job(project, bob, 4, JobState.FAILED, age=45 * DAYS, retry_of=old_original)
    old_retry_of_retry = old_job(project, bob, 5, JobState.SUCCEEDED, age=44 * DAYS)
    ImageJob.objects.filter(pk=old_retry_of_retry.pk).update(retry_of=old_retry)

    said = prune("--before", cutoff(), "--output", str(tmp_path / "x.jsonl"), "--execute")

    assert "Kept: 1 ended jobs that a newer, kept job retried." in said
    assert set(ImageJob.objects.values_list("pk", flat=True)) == {original.pk, recent_retry.pk}
    exported = [json.loads(line) for line in (tmp_path / "x.jsonl").read_text().splitlines()]
    retry_of = {
        row["pk"]: row["fields"]["retry_of"] for row in exported if "retry_of" in row["fields"]
    }
    assert retry_of == {
        old_original.pk: None,
        old_retry.pk: old_original.pk,
        old_retry_of_retry.pk: old_retry.pk,
    }  # the file keeps the links the delete had to cut


def test_it_prunes_old_task_results_failures_included(history, tmp_path):
    long_ago = timezone.now() - 40 * DAYS
    for n, success in enumerate((True, False, False)):
        Task.objects.create(
            id=f"old{n}",
            name=f"old-{n}",
            func="imaging.tasks.send_upload",
            started=long_ago,
            stopped=long_ago,
            success=success,
        )
    Task.objects.create(
        id="new",
        name="new",
        func="imaging.tasks.send_upload",
        started=timezone.now(),
        stopped=timezone.now(),
        success=False,
    )

    dry = prune("--before", cutoff())
    assert "Task results older than that: 3 (2 failed)." in dry
    assert Task.objects.count() == 4

    said = prune("--before", cutoff(), "--output", str(tmp_path / "x.jsonl"), "--execute")
    assert "Deleted 3 task results." in said
    assert list(Task.objects.values_list("id", flat=True)) == ["new"]


def test_it_refuses_a_date_inside_the_upload_window(history):
    with pytest.raises(CommandError, match="newer jobs still count against"):
        prune("--before", timezone.now().isoformat())
    assert ImageJob.objects.count() == 4


def test_it_never_overwrites_an_export(history, tmp_path):
    output = tmp_path / "export.jsonl"
    output.write_text("an earlier export\n")

    with pytest.raises(CommandError, match="exists; an export is never overwritten"):
        prune("--before", cutoff(), "--output", str(output), "--execute")

    assert output.read_text() == "an earlier export\n"
    assert ImageJob.objects.count() == 4  # nothing deleted without its export


def test_it_refuses_a_date_it_cannot_read(db):
    with pytest.raises(CommandError, match="is not a date"):
        prune("--before", "last tuesday")


def test_successful_task_results_are_bounded(settings):
    assert settings.Q_CLUSTER["save_limit"] > 0
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "Q_SAVE_LIMIT": "0"}
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "Q_SAVE_LIMIT=0 would keep every task result" in started.stderr
