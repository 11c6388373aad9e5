"""What people can do to a job: cancel it before it reaches K5, or retry a failed one (the
vendor's remedy for a sync failure: delete the image and create it again — only an image that
is not usable, see replacement.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from imaging.access import can_act_on
from imaging.engine.connections import client_for
from imaging.engine.errors import (
    Refusal,
    interpolate_lazy,
)
from imaging.engine.replacement import DELETE, ReplacedImage, replaced_image
from imaging.engine.submission import submit_job
from imaging.engine.validation import Submission, k5_not_available
from imaging.k5 import K5Error
from imaging.k5 import deadline as k5_deadline
from imaging.messages import Said, said
from imaging.models import (
    Automation,
    EventKind,
    ImageJob,
    InvalidTransition,
    JobState,
    UploadAttempt,
)

RETRYABLE = (JobState.FAILED, JobState.SYNC_FAILED)


def _lowercase(text) -> str:
    return str(text).lower()


_lowercase_lazy = lazy(_lowercase, str)


def _state_name(job: ImageJob):
    """The job's state as words within a sentence, lazily in the reader's language."""
    return _lowercase_lazy(JobState(job.state).label)


# Before the upload leaves: waiting in our queue, or for its automation's snapshot, server
# stop or Sysprep shutdown.
CANCELLABLE = (JobState.QUEUED, JobState.PREPARING, JobState.AWAITING_SHUTDOWN)


def can_cancel(job: ImageJob, user) -> bool:
    """Only a job whose upload has not left: once the upload may have reached K5, it cannot
    be called back. (What its automation did is then undone by the engine: a stopped server
    is started, a snapshot taken before Sysprep's shutdown deleted.)"""
    return job.state in CANCELLABLE and can_act_on(user, job)


def can_retry(job: ImageJob, user) -> bool:
    """A failed or sync-failed job, once."""
    return job.state in RETRYABLE and can_act_on(user, job) and not job.retries.exists()


def cancel_job(job: ImageJob, user) -> ImageJob:
    if not can_cancel(job, user):
        _require_act(job, user)
        raise Refusal("not_allowed", _why_not_cancellable(job))
    try:
        with transaction.atomic():
            job.transition(
                JobState.CANCELLED,
                message=said("job.cancelled_by", user=user.get_username()),
                actor=user,
            )
            # A stop/start job holds its upload slot while its server stops: free it.
            job.upload_attempts.filter(outcome=UploadAttempt.Outcome.SENDING).update(
                outcome=UploadAttempt.Outcome.NOT_SENT
            )
    except InvalidTransition:
        job.refresh_from_db()
        raise Refusal("not_allowed", _why_not_cancellable(job)) from None
    return job


def _require_act(job: ImageJob, user) -> None:
    if not can_act_on(user, job):
        raise Refusal(
            "forbidden",
            _("Only the member who requested this job, or a project admin, may do that."),
        )


def _why_not_cancellable(job: ImageJob):
    if job.terminal:
        return interpolate_lazy(
            _("The job has already ended (%(state)s)."), {"state": _state_name(job)}
        )
    return _(
        "The upload has already been sent to K5 and cannot be called back; wait for the job to end."
    )


@dataclass(frozen=True)
class QueuedRetry:
    job: ImageJob
    # What the retry does with the old job's image (None: it has none K5 still shows).
    replaces_image: ReplacedImage | None


def retry_preview(job: ImageJob, user) -> ReplacedImage | None:
    """What a retry of `job` would do with its image, from a fresh look-up — shown before the
    person confirms. Refuses as `retry_job` would."""
    if not can_retry(job, user):
        _refuse_retry(job, user)
    return _replaced_image_now(job)


def queue_retry(
    job: ImageJob,
    user,
    *,
    channel: str,
    client_address: str | None = None,
    image_name: str | None = None,
) -> QueuedRetry:
    """Queue a new job with the same parameters (and `image_name` if given), linked to the
    old one — accepted or refused on fresh checks first.

    The old job's image is deleted only when it is not usable (replacement.py); it is not
    touched here: the worker looks it up again and deletes it just before the new upload is
    sent, so it stays if the new job is refused, cancelled or never sent. A usable image is
    kept, and keeps its name: the new job must have another."""
    if not can_retry(job, user):
        _refuse_retry(job, user)
    plan = _replaced_image_now(job)
    name = image_name or job.image_name
    if plan is not None and plan.kept and name == plan.name:
        raise Refusal(
            "image_name_taken",
            interpolate_lazy(
                _(
                    "Image %(image)s of job %(job)s is %(status)s, so the retry keeps it, and "
                    "it holds the name %(name)s: give the new image another name."
                ),
                {"image": plan.id, "job": job.pk, "status": plan.described, "name": repr(name)},
            ),
            field="image_name",
        )
    submission = Submission(
        project=job.project,
        volume_id=job.volume_id,
        image_name=name,
        preparation_confirmed=bool(job.preparation_confirmed),
        force=job.force,
        os_stopped_confirmed=job.os_stopped_override,
        os_family=job.os_family,
        disk_format=job.disk_format,
        container_format=job.container_format,
        replaces_image_id=plan.id if plan is not None and plan.action == DELETE else None,
        automation=job.automation,
        keep_snapshot=job.keep_snapshot,
    )
    with transaction.atomic():
        new_job, _created = submit_job(
            submission, user=user, channel=channel, client_address=client_address, retry_of=job
        )
        if plan is not None:
            new_job.record(
                EventKind.ACTION,
                _planned_message(job, plan),
                actor=user,
                detail={"replaces_image": plan.as_dict(), "retry_of": job.pk},
            )
    return QueuedRetry(job=new_job, replaces_image=plan)


def retry_job(job: ImageJob, user, *, channel: str, client_address: str | None = None) -> ImageJob:
    """`queue_retry` under the same name, for callers that need only the new job."""
    return queue_retry(job, user, channel=channel, client_address=client_address).job


def retry_consequence(job: ImageJob, plan: ReplacedImage | None):
    """What the retry does with the old image, in the reader's language (None: nothing)."""
    if plan is None:
        return None
    if plan.kept:
        return interpolate_lazy(
            _("Image %(image)s (%(status)s) will be kept; give the new image another name."),
            {"image": plan.name or plan.id, "status": plan.described},
        )
    return interpolate_lazy(
        _("Image %(image)s (%(status)s) will be deleted just before the new upload is sent."),
        {"image": plan.name or plan.id, "status": plan.described},
    )


def _planned_message(job: ImageJob, plan: ReplacedImage) -> Said:
    code = "retry.keeps_image" if plan.kept else "retry.replaces_image"
    return said(code, image_id=plan.id, job=job.pk, described=plan.described)


def _replaced_image_now(job: ImageJob) -> ReplacedImage | None:
    if not job.image_id or job.image_deleted_at:
        return None  # nothing to ask K5
    try:
        with k5_deadline.within(settings.K5_REQUEST_BUDGET_SECONDS):
            return replaced_image(job, client_for(job.project))
    except K5Error as exc:
        raise k5_not_available(
            exc, _("K5 could not be asked about the job's image: %(message)s Try again shortly.")
        ) from None


def _refuse_retry(job: ImageJob, user) -> None:
    """Why `can_retry` said no, in words for the person who asked."""
    _require_act(job, user)
    if job.state not in RETRYABLE:
        raise Refusal(
            "not_allowed",
            interpolate_lazy(
                _(
                    "Only a failed job or one whose sync failed can be retried; this one is "
                    "%(state)s."
                ),
                {"state": _state_name(job)},
            ),
        )
    if job.retries.exists():
        raise Refusal(
            "not_allowed",
            interpolate_lazy(
                _("This job was already retried as job %(job)s."),
                {"job": job.retries.latest("created_at").pk},
            ),
        )


# Windows volumes: the vendor's tasks after the image is created.
AFTER_TASKS = {
    "restore_snapshot": _("Restored the server's snapshot"),
    "restart_server": _("Restarted the server"),
}


def tick_after_task(job: ImageJob, user, task: str) -> None:
    """Record that the requester did one of the after-image tasks (Windows)."""
    _require_act(job, user)
    if not job.is_windows or task not in AFTER_TASKS or job.automation != Automation.NONE:
        # An automated round trip restores and starts the server itself (its steps).
        raise Refusal("invalid", _("That task does not apply to this job."))
    if job.state != JobState.SUCCEEDED:
        raise Refusal("not_allowed", _("The after-image tasks come once the image is ready."))
    if task in job.after_tasks:
        return
    done = {**job.after_tasks, task: {"by": user.get_username(), "at": timezone.now().isoformat()}}
    with transaction.atomic():
        ImageJob.objects.filter(pk=job.pk).update(after_tasks=done)
        # The audit log stays in English, whoever's language ticked the task.
        job.record(
            EventKind.ACTION,
            said(f"job.after_task.{task}"),
            actor=user,
            detail={"task": task},
        )
    job.after_tasks = done
