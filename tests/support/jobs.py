"""Jobs for tests: rows in a given state (`make_job`), for tests about what pages, the API and
notifications show of a job; and jobs taken through the engine's own steps (`submit`,
`run_to_uploading`, `poll`), for tests about the engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from imaging.engine.automation import plan_steps
from imaging.engine.pacing import start_due_uploads
from imaging.engine.polling import poll_project
from imaging.engine.submission import submit_job
from imaging.engine.upload import send_upload
from imaging.engine.validation import Submission
from imaging.models import (
    Automation,
    EventKind,
    ImageJob,
    JobState,
    JobStep,
    K5Project,
    Schedule,
    SyncRole,
    SyncStatus,
    UploadAttempt,
    ZoneSyncResult,
)
from tests.support.demo import (
    CENTOS_WEB,
    DATA_FRONT,
    RHEL_DB,
    UBUNTU_APP,
    WIN_AD,
    ZONE_B_SERVER,
    ZONES,
)

FINISHED = (JobState.SUCCEEDED, JobState.FAILED, JobState.SYNC_FAILED, JobState.CANCELLED)


def make_job(
    project: K5Project,
    user: User,
    *,
    volume_id: str = CENTOS_WEB,
    image_name: str = "web-golden",
    state: str = JobState.QUEUED,
    os_family: str = "linux",
    channel: str = "web",
    steps: dict[str, str] | None = None,
    **fields,
) -> ImageJob:
    """A job row as the engine leaves it in `state`, with its zones and request event.

    A failed job has K5's error; a sync_failed one has an image registered in jp-east-1a and
    refused by jp-east-1b, with K5's `sync_status_reason`. `fields` override any column. A
    job with an `automation` has the steps the engine plans for it, pending unless `steps`
    (name: state) says otherwise: a step that ran has its times, a failed one K5's refusal.
    """
    now = timezone.now()
    if state != JobState.QUEUED:
        fields.setdefault("submitted_at", now)
    if state in FINISHED:
        fields.setdefault("finished_at", now)
    if state == JobState.FAILED:
        fields.setdefault("error_message", "K5 could not create the image: it ended killed.")
        fields.setdefault("error_detail", "volume_status=available, image_status=killed")
    zone_status = {
        z: SyncStatus.SYNCED if state == JobState.SUCCEEDED else SyncStatus.PENDING for z in ZONES
    }
    if state == JobState.SYNC_FAILED:
        fields.setdefault("image_id", "img-1")
        fields.setdefault(
            "error_message",
            "The image is not usable: registering it to availability zone jp-east-1b failed.",
        )
        fields.setdefault(
            "error_detail",
            f"ERROR:A timeout occurred during synchronize image the server({ZONE_B_SERVER}) "
            f"in the image operation. image_id={fields['image_id']}",
        )
        zone_status = {"jp-east-1a": SyncStatus.SYNCED, "jp-east-1b": SyncStatus.FAILED}
    job = ImageJob.objects.create(
        project=project,
        volume_id=volume_id,
        image_name=image_name,
        state=state,
        volume=fields.pop(
            "volume", {"id": volume_id, "name": f"volume-{volume_id[-2:]}", "size": 30}
        ),
        volume_size_gb=30,
        volume_zone=ZONES[0],
        os_family=os_family,
        preparation_confirmed="linux-network-settings-removed",
        requested_by=user,
        requested_by_name=user.get_username(),
        channel=channel,
        **{"expected_seconds": 480, **fields},
    )
    for zone in ZONES:
        ZoneSyncResult.objects.create(
            job=job,
            availability_zone=zone,
            role=SyncRole.SOURCE if zone == ZONES[0] else SyncRole.REPLICA,
            status=zone_status[zone],
            reason=fields.get("error_detail", "") if zone_status[zone] == SyncStatus.FAILED else "",
        )
    if job.automation != Automation.NONE:
        plan_steps(job)
        for name, step_state in (steps or {}).items():
            set_step(job, name, step_state)
    job.record(EventKind.ACTION, f"Requested image {image_name!r}.", actor=user)
    return job


def set_step(job: ImageJob, name: str, state: str, detail: str = "") -> JobStep:
    """Put one of the job's steps in `state`, as the engine would leave it."""
    now = timezone.now()
    step = job.steps.get(name=name)
    step.state = state
    if state != "pending":
        step.started_at = now - timedelta(seconds=30)
    if state in ("done", "failed", "skipped"):
        step.finished_at = now
    step.detail = detail or {
        "running": "Working on it.",
        "done": "Done.",
        "failed": "K5 refused it: the server is in a state that does not allow it.",
        "skipped": "Not needed.",
    }.get(state, "")
    step.save()
    return step


def spend_budget(project: K5Project, user: User) -> datetime:
    """Four uploads sent in the last hour, the first 50 minutes ago (returned): the project's
    budget is spent and the next slot opens in 10 minutes. The jobs are `user`'s, succeeded,
    of four demo volumes other than CENTOS_WEB."""
    first = timezone.now() - timedelta(minutes=50)
    for n, volume in enumerate([UBUNTU_APP, RHEL_DB, WIN_AD, DATA_FRONT]):
        job = make_job(
            project, user, volume_id=volume, image_name=f"earlier-{n}", state=JobState.SUCCEEDED
        )
        UploadAttempt.objects.create(
            project=project,
            job=job,
            sent_at=first + timedelta(minutes=n),
            outcome=UploadAttempt.Outcome.ACCEPTED,
        )
    return first


def submission(
    project: K5Project, volume_id: str = CENTOS_WEB, image_name: str = "web-golden", **options
) -> Submission:
    """What a member sends: confirmed preparation unless `options` say otherwise."""
    options.setdefault("preparation_confirmed", True)
    return Submission(project=project, volume_id=volume_id, image_name=image_name, **options)


def submit(
    project: K5Project,
    user: User,
    volume_id: str = CENTOS_WEB,
    image_name: str = "web-golden",
    **options,
) -> ImageJob:
    """What the web form does: validate against K5 and queue (the start task is enqueued on
    commit)."""
    job, created = submit_job(
        submission(project, volume_id, image_name, **options), user=user, channel="web"
    )
    assert created
    return job


def run_to_uploading(project: K5Project, job: ImageJob) -> ImageJob:
    """Take a slot and send the upload, as the tick and a worker would."""
    start_due_uploads(project)
    send_upload(job.pk)
    job.refresh_from_db()
    return job


def poll(project: K5Project, *, later: float = 0) -> None:
    """One engine poll, with the portal's clock `later` seconds ahead (the settle window)."""
    poll_project(project, now=timezone.now() + timedelta(seconds=later))


def state_of(job: ImageJob) -> str:
    """The job's state as the database has it now (workers move it in other processes)."""
    job.refresh_from_db()
    return job.state


def make_schedule(project: K5Project, user: User, name: str = "weekly", **fields) -> Schedule:
    """A schedule row of two demo volumes, weekly, keeping 2 (for tests about its runs and
    retention; the API's tests make theirs through the API)."""
    defaults = {
        "volume_ids": [CENTOS_WEB, UBUNTU_APP],
        "cron": "0 3 * * 1",
        "image_name_template": "{volume}-{date}",
        "keep": 2,
        "preparation_confirmed": True,
        "created_by": user,
        "created_by_name": user.get_username(),
    }
    return Schedule.objects.create(project=project, name=name, **{**defaults, **fields})
