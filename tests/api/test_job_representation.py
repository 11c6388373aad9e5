"""The jobs API writes each job out by hand, for speed (docs/performance.md). Here what a tool
receives is held to what DRF derives from the serializer's declared fields — the ones the
schema publishes — for jobs in every state, so the answers and the schema cannot drift apart."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from imaging.api.serializers import JobSerializer
from imaging.engine.automation import PLANS
from imaging.engine.pacing import queue_forecasts
from imaging.models import (
    Automation,
    ImageJob,
    JobState,
    StepName,
    StepState,
    SyncStatus,
    UploadAttempt,
    ZoneSyncResult,
)
from tests.api.client import job_body
from tests.support.demo import CENTOS_BATCH, WIN_AD
from tests.support.jobs import make_job


def jobs_in_every_state(project, other_project, user):
    now = timezone.now()
    jobs = [
        make_job(project, user, volume_id="v-queued-1", image_name="q1"),
        make_job(project, user, volume_id="v-queued-2", image_name="q2"),
        make_job(other_project, user, volume_id="v-queued-3", image_name="q3"),
        make_job(
            project,
            user,
            volume_id="v-uploading",
            image_name="up",
            state=JobState.UPLOADING,
            # Mid-way between two roundings of the progress, whichever moment it is read at.
            submitted_at=now - timedelta(seconds=24010),
            expected_seconds=48000,
            image_id="img-up",
        ),
        make_job(
            project,
            user,
            volume_id="v-verifying",
            image_name="ver",
            state=JobState.VERIFYING,
            image_id="img-ver",
            upload_finished_at=now - timedelta(seconds=60),
            sync_watch_until=now + timedelta(seconds=540),
        ),
        make_job(project, user, volume_id="v-done", image_name="done", state=JobState.SUCCEEDED),
        make_job(
            project,
            user,
            volume_id="v-sync",
            image_name="sync",
            state=JobState.SYNC_FAILED,
            os_family="windows",
            force=True,
        ),
        make_job(project, user, volume_id="v-cancel", image_name="c", state=JobState.CANCELLED),
    ]
    # Automation: a snapshot being taken, a wait for Sysprep, a restore that K5 refused.
    jobs += [
        make_job(
            project,
            user,
            volume_id="v-preparing",
            image_name="prep",
            state=JobState.PREPARING,
            os_family="windows",
            automation=Automation.SYSPREP_ROUND_TRIP,
            server_id="srv-1",
            steps={StepName.SNAPSHOT: StepState.RUNNING},
        ),
        make_job(
            project,
            user,
            volume_id="v-awaiting",
            image_name="await",
            state=JobState.AWAITING_SHUTDOWN,
            os_family="windows",
            automation=Automation.SYSPREP_ROUND_TRIP,
            server_id="srv-2",
            snapshot_id="snap-2",
            keep_snapshot=True,
            steps={StepName.SNAPSHOT: StepState.DONE, StepName.AWAIT_SHUTDOWN: StepState.RUNNING},
        ),
        make_job(
            project,
            user,
            volume_id="v-finishing",
            image_name="fin",
            state=JobState.FINISHING,
            os_family="windows",
            automation=Automation.SYSPREP_ROUND_TRIP,
            server_id="srv-3",
            snapshot_id="snap-3",
            image_id="img-fin",
            steps={
                StepName.SNAPSHOT: StepState.DONE,
                StepName.AWAIT_SHUTDOWN: StepState.DONE,
                StepName.UPLOAD: StepState.DONE,
                StepName.RESTORE_SNAPSHOT: StepState.FAILED,
            },
        ),
        make_job(
            project,
            user,
            volume_id="v-stop-start",
            image_name="stst",
            state=JobState.SUCCEEDED,
            automation=Automation.STOP_START,
            server_id="srv-4",
            steps={name: StepState.DONE for name in PLANS[Automation.STOP_START]},
        ),
    ]
    failed = make_job(project, user, volume_id="v-fail", image_name="f", state=JobState.FAILED)
    jobs += [failed, make_job(project, user, volume_id="v-fail", image_name="f2", retry_of=failed)]
    ZoneSyncResult.objects.filter(job__state=JobState.SYNC_FAILED, role="replica").update(
        status=SyncStatus.FAILED, reason="timeout", checked_at=now - timedelta(microseconds=1)
    )
    # Both projects' windows full: the queued jobs' starts follow from these, not from the
    # moment each answer is made.
    for p in (project, other_project):
        sent = make_job(
            p,
            user,
            volume_id="v-sent",
            image_name="sent",
            state=JobState.UPLOADING,
            expected_seconds=10**6,
        )
        for minutes in (50, 40, 30, 20):
            UploadAttempt.objects.create(
                project=p, job=sent, sent_at=now - timedelta(minutes=minutes, microseconds=7)
            )
    return jobs


def as_declared(request) -> dict[int, dict]:
    """Every job as DRF makes it of the declared fields (ModelSerializer's own walk), rendered
    as the API renders."""
    fetched = ImageJob.objects.prefetch_related(
        Prefetch("zones", ZoneSyncResult.objects.order_by("-role", "availability_zone"))
    )
    serializer = JobSerializer(context={"request": request, "forecasts": queue_forecasts(fetched)})
    return {
        job.pk: json.loads(
            JSONRenderer().render(serializers.ModelSerializer.to_representation(serializer, job))
        )
        for job in fetched
    }


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Tokyo"])
def test_a_tool_gets_what_the_declared_fields_say(
    api, project, other_project, stella, settings, time_zone
):
    settings.TIME_ZONE = time_zone
    jobs = jobs_in_every_state(project, other_project, stella)
    tool = api(stella)  # staff: sees both projects

    listed = {job["id"]: job for job in tool.get("/api/v1/jobs/?page_size=500").json()["results"]}
    request = Request(APIRequestFactory().get("/api/v1/jobs/"))
    declared = as_declared(request)

    assert set(listed) == set(declared) >= {job.pk for job in jobs}
    for pk, job in listed.items():
        assert job == declared[pk]
        assert job == tool.get(f"/api/v1/jobs/{pk}/").json()
    # The cases the comparison is meant to cover are really there.
    assert {job["state"] for job in listed.values()} >= set(JobState.values) - {JobState.SUBMITTING}
    assert sorted(job["queue_position"] for job in listed.values() if job["queue_position"]) == [
        1,
        1,
        2,
        3,
    ]
    assert any(zone["checked_at"] for job in listed.values() for zone in job["zones"])
    assert any(job["retry_of"] for job in listed.values())
    assert any(0 < (job["progress"] or 0) < 1 for job in listed.values())
    steps = [step for job in listed.values() for step in job["steps"]]
    assert {step["state"] for step in steps} == set(StepState.values) - {StepState.SKIPPED}
    assert any(step["started_at"] and step["finished_at"] and step["detail"] for step in steps)
    assert {job["automation"] for job in listed.values()} == set(Automation.values)


@pytest.mark.parametrize("volume", [CENTOS_BATCH, WIN_AD])
def test_a_created_job_is_answered_as_it_is_read_afterwards(api, project, bob, volume):
    """The POST answers from the job it wrote; a GET reads it back from the database."""
    tool = api(bob)
    created = tool.post("/api/v1/jobs/", job_body(project, volume, force=True))
    assert created.status_code == 201, created.content
    job = created.json()
    read = tool.get(f"/api/v1/jobs/{job['id']}/").json()
    # A slot is free: the start is "now", whenever each answer was made.
    starts = [parse_datetime(j.pop("estimated_start")) for j in (job, read)]
    assert abs(starts[1] - starts[0]) < timedelta(seconds=5)
    assert job == read
    assert job["volume"]["id"] == volume and job["zones"] and job["queue_position"] == 1
