"""What people can do to a job: cancel it before it reaches K5, or retry a failed one (the
vendor's remedy for a sync failure: delete the image and create it again)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from imaging.access import can_act_on
from imaging.engine.errors import (
    Refusal,
    english,
    interpolate_lazy,
)
from imaging.engine.submission import submit_job
from imaging.engine.validation import Submission
from imaging.models import EventKind, ImageJob, InvalidTransition, JobState

RETRYABLE = (JobState.FAILED, JobState.SYNC_FAILED)


def _lowercase(text) -> str:
    return str(text).lower()


_lowercase_lazy = lazy(_lowercase, str)


def _state_name(job: ImageJob):
    """The job's state as words within a sentence, lazily in the reader's language."""
    return _lowercase_lazy(JobState(job.state).label)


def can_cancel(job: ImageJob, user) -> bool:
    """Only a job still waiting in our queue: once the upload may have reached K5, it cannot
    be called back."""
    return job.state == JobState.QUEUED and can_act_on(user, job)


def can_retry(job: ImageJob, user) -> bool:
    """A failed or sync-failed job, once."""
    return job.state in RETRYABLE and can_act_on(user, job) and not job.retries.exists()


def cancel_job(job: ImageJob, user) -> ImageJob:
    if not can_cancel(job, user):
        _require_act(job, user)
        raise Refusal("not_allowed", _why_not_cancellable(job))
    try:
        job.transition(
            JobState.CANCELLED, message=f"Cancelled by {user.get_username()}.", actor=user
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


def retry_job(job: ImageJob, user, *, channel: str, client_address: str | None = None) -> ImageJob:
    """Queue a new job with the same parameters, linked to the old one — accepted or refused
    on fresh checks first. The old job's image (the vendor's remedy for a sync failure:
    delete it and create it again) is not touched here: the worker deletes it just before the
    new upload is sent, so it stays if the new job is refused, cancelled or never sent."""
    if not can_retry(job, user):
        _refuse_retry(job, user)
    submission = Submission(
        project=job.project,
        volume_id=job.volume_id,
        image_name=job.image_name,
        preparation_confirmed=bool(job.preparation_confirmed),
        force=job.force,
        os_stopped_confirmed=job.os_stopped_override,
        os_family=job.os_family,
        disk_format=job.disk_format,
        container_format=job.container_format,
        replaces_image_id=job.image_id if job.image_id and not job.image_deleted_at else None,
    )
    with transaction.atomic():
        new_job, _created = submit_job(
            submission, user=user, channel=channel, client_address=client_address, retry_of=job
        )
    return new_job


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
    if not job.is_windows or task not in AFTER_TASKS:
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
            EventKind.ACTION, f"{english(AFTER_TASKS[task])}.", actor=user, detail={"task": task}
        )
    job.after_tasks = done
