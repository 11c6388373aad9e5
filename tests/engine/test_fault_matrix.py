"""The fault matrix: each fault the simulator can inject, the job's end state, the message a
person reads, and the K5 calls the job cost (docs/reliability.md shows this table).

One job on demo-project-1, carried by the engine's own steps as a tick would (take the slot,
send, poll), with K5's clock and the portal's moved together 30 s at a time. The calls are the
simulator's log from the moment the job was queued (the submission checks are not counted).
PostgreSQL and Redis restarted mid-run need real servers and processes:
tests/e2e/test_restarts.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from imaging.engine.pacing import start_due_uploads
from imaging.engine.polling import poll_project
from imaging.engine.upload import send_upload
from imaging.k5 import K5Client, blockstorage
from imaging.models import TERMINAL_STATES, ImageJob, JobState
from tests.support.demo import CENTOS_WEB, DATA_SMALL, RHEL_DB, UBUNTU_APP, WIN_AD
from tests.support.jobs import submit

UPLOADS = "POST /blockstorage/v2/{project_id}/volumes/{volume_id}/action"
TOKENS = "POST /identity/v3/auth/tokens"
VOLUMES = "GET /blockstorage/v2/{project_id}/volumes/detail"
IMAGES = "GET /image/v2/images"
DELETES = "DELETE /image/v2/images/{image_id}"
IMAGE_BY_ID = "GET /image/v2/images/{image_id}"  # what the list leaves out (a killed image)
VOLUME_BY_ID = "GET /blockstorage/v2/{project_id}/volumes/{volume_id}"  # what the list leaves out
STEP = 30  # seconds of K5 and portal time per tick


@dataclass
class Row:
    fault: str
    inject: Callable  # (k5sim, project, job) -> None, before the upload is sent
    state: str  # where the job ends (or waits)
    message: str  # in what a person reads: the error, or why it waits
    calls: dict[str, int]  # exact counts of every call but the two listings
    volume: str = CENTOS_WEB
    during: Callable | None = None  # (k5sim, project, job) -> None, once it is uploading
    settings: dict = field(default_factory=dict)


def http(**fault):
    return lambda k5sim, project, job: k5sim.add_fault(kind="http", **fault)


def volume_status(status):
    return lambda k5sim, project, job: k5sim.control(
        "PATCH", f"volumes/{job.volume_id}", json={"status": status}
    )


def fill_k5_rate_window(k5sim, project, job):
    """Someone else (outside the portal) used the project's four uploads of this hour."""
    client = K5Client(project.k5_config())
    for volume in (UBUNTU_APP, RHEL_DB, WIN_AD, DATA_SMALL):
        blockstorage.volume_upload_to_image(client, volume, f"elsewhere-{volume[-2:]}")
    client.close()


def sync_failure(zone):
    # For this job's image: the demo's own upload in flight registers to jp-east-1a too.
    return lambda k5sim, project, job: k5sim.add_fault(
        kind="sync_failure", zone=zone, image_id=job.image_id
    )


def wrong_password(k5sim, project, job):
    project.set_password("not-the-password")
    project.save()


def nothing(*args):
    return None


ROWS = [
    Row(
        "5xx burst: the volume listing answers 503 three times",
        http(method="GET", path="/volumes/detail$", status=503, times=3),
        JobState.SUCCEEDED,
        "The image is active and registered to every availability zone.",
        {UPLOADS: 1},
    ),
    Row(
        "connection reset on the upload call (K5 never got it)",
        http(method="POST", path="/action$", reset=True),
        JobState.SUCCEEDED,
        "The image is active and registered to every availability zone.",
        {UPLOADS: 2},
    ),
    Row(
        "slow answer past the read timeout on the upload call (K5 acted)",
        http(method="POST", path="/action$", delay_answer=3),
        JobState.SUCCEEDED,
        "The image is active and registered to every availability zone.",
        {UPLOADS: 1},
        settings={"K5_READ_TIMEOUT": 1},
    ),
    Row(
        "401 mid-job: K5 refuses the token once",
        nothing,
        JobState.SUCCEEDED,
        "The image is active and registered to every availability zone.",
        {UPLOADS: 1, TOKENS: 1},
        during=http(method="GET", path="/volumes/detail$", status=401),
    ),
    Row(
        "400 with a message: the volume went into error before the upload",
        volume_status("error"),
        JobState.FAILED,
        "K5 refused to create the image. K5 says: Invalid volume: Volume status must be "
        "available/in-use.",
        {UPLOADS: 1},
    ),
    Row(
        "413 with Retry-After: K5's hourly upload window is full",
        fill_k5_rate_window,
        JobState.QUEUED,
        "K5's upload limit is reached; next try after 60 min.",
        {UPLOADS: 4 + 1, TOKENS: 1},  # someone else's sign-in and four uploads, then ours
    ),
    Row(
        "volume deleted mid-upload",
        nothing,
        JobState.FAILED,
        "The volume was deleted while the image was being created.",
        # Asked by id before deciding; a missing volume never deletes the image.
        {UPLOADS: 1, IMAGE_BY_ID: 1, VOLUME_BY_ID: 1},
        during=lambda k5sim, project, job: k5sim.control("DELETE", f"volumes/{job.volume_id}"),
    ),
    Row(
        "image killed: the upload fails in K5",
        lambda k5sim, project, job: k5sim.add_fault(kind="upload_failure"),
        JobState.FAILED,
        "K5 could not create the image: it ended killed.",
        {UPLOADS: 1, IMAGE_BY_ID: 1, DELETES: 1},
    ),
    Row(
        "sync failure in zone jp-east-1b (image made in jp-east-1a)",
        nothing,
        JobState.SYNC_FAILED,
        "The image is not usable: registering it to availability zone jp-east-1b failed.",
        {UPLOADS: 1},
        during=sync_failure("jp-east-1b"),
    ),
    Row(
        "sync failure in zone jp-east-1a (image made in jp-east-1b)",
        nothing,
        JobState.SYNC_FAILED,
        "The image is not usable: registering it to availability zone jp-east-1a failed.",
        {UPLOADS: 1},
        volume=RHEL_DB,
        during=sync_failure("jp-east-1a"),
    ),
    Row(
        "wrong password",
        wrong_password,
        JobState.QUEUED,
        "K5 rejected the credential of demo-user",
        {TOKENS: 1},
    ),
]


def tick_at(project, now: datetime) -> None:
    """What a tick does at portal time `now`, with the send tasks run at once."""
    for job in start_due_uploads(project, now=now):
        send_upload(job.pk)
    poll_project(project, now=now)
    # A send task the engine queued again (its first was lost): run it here.
    for job in ImageJob.objects.filter(
        project=project, state=JobState.SUBMITTING, submit_started_at=None
    ):
        send_upload(job.pk)


def what_a_person_reads(job: ImageJob) -> str:
    last = job.events.order_by("-id").first()
    return job.error_message or job.waiting_reason or (last.message if last else "")


@pytest.mark.django_db
@pytest.mark.parametrize("row", ROWS, ids=[r.fault for r in ROWS])
def test_fault_matrix(row, k5sim, project, bob, settings):
    for name, value in row.settings.items():
        setattr(settings, name, value)
    job = submit(project, bob, row.volume, "matrix-image")
    k5sim.clear_requests()
    row.inject(k5sim, project, job)

    now = timezone.now()
    during = row.during
    for _ in range(60):
        tick_at(project, now)
        job.refresh_from_db()
        if during and job.state == JobState.UPLOADING:
            during(k5sim, project, job)
            during = None
        if job.state in TERMINAL_STATES:
            break
        if row.state == JobState.QUEUED and job.waiting_reason and job.submit_attempts:
            break  # it waits: what the row is about
        k5sim.advance(STEP)
        now += timedelta(seconds=STEP)

    assert job.state == row.state, (job.state, what_a_person_reads(job))
    if row.message:
        assert row.message in what_a_person_reads(job)
    counts = k5sim.request_counts()
    listings = counts.pop(VOLUMES, 0), counts.pop(IMAGES, 0)
    assert counts == row.calls
    # Following the job cost the project's two listings per tick.
    assert listings[1] >= 1 or job.state == JobState.QUEUED or not job.submitted_at
