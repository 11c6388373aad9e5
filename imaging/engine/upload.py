"""Sending the one call that is not idempotent, and reconciling it after a crash.

The slot is counted (UploadAttempt) before the call; `submit_started_at` is committed just
before the call is sent. A worker killed after that leaves the job in `submitting`; the tick
then asks K5 what happened (see `reconcile_submitting`) and re-sends only when K5 shows the
upload never happened. The call itself is never retried automatically — with one exception
the facade makes: a 401 means keystonemiddleware refused the token before Cinder saw the
call, so after signing in again (under the engine's lease) it is sent once more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.utils import timezone

from imaging import dispatch
from imaging.engine.connections import (
    client_for,
    credentials_waiting,
    mark_credentials_invalid,
)
from imaging.engine.durations import copy_token_seconds
from imaging.engine.errors import CredentialsInvalid
from imaging.engine.k5calls import recording_calls
from imaging.engine.replacement import replaced_image
from imaging.k5 import (
    K5CredentialError,
    K5Error,
    K5NotFound,
    K5RateLimited,
    K5Unavailable,
    K5UploadOutcomeUnknown,
    blockstorage,
    image,
)
from imaging.k5.types import Image, Volume
from imaging.messages import Said, k5_words, said
from imaging.models import EventKind, ImageJob, InvalidTransition, JobState, UploadAttempt

logger = logging.getLogger(__name__)
Outcome = UploadAttempt.Outcome

# K5's clock and ours differ; an image "created since the attempt" is looked for this far back.
CLOCK_SKEW = timedelta(minutes=10)


def send_upload(job_id: int) -> str:
    """Send the upload call of a job that holds a slot. Returns what happened, for logs."""
    now = timezone.now()
    claimed = ImageJob.objects.filter(
        pk=job_id, state=JobState.SUBMITTING, submit_started_at__isnull=True
    ).update(submit_started_at=now)
    if not claimed:
        return "not claimed: another worker sent it, or the job moved on"
    job = ImageJob.objects.select_related("project", "retry_of").get(pk=job_id)
    attempt = job.upload_attempts.filter(outcome=Outcome.SENDING).order_by("-sent_at").first()
    if attempt is not None:
        # The slot was counted when it was taken, but this task may have waited in the queue
        # since: the call leaves now, and K5 cannot count it any earlier.
        UploadAttempt.objects.filter(pk=attempt.pk).update(sent_at=now)
    try:
        client = client_for(job.project)
    except CredentialsInvalid:
        return _credentials_invalid(job, attempt)
    except K5Error as exc:
        # Signing in failed (K5's identity unreachable, another worker still signing in): the
        # upload never left.
        return _not_sent_for_now(
            job,
            attempt,
            said("upload.sign_in_failed", k5_says=k5_words(exc)),
            "waiting.sign_in_failed",
        )

    not_replaced = _delete_replaced_image(job, client, attempt)
    if not_replaced:
        return not_replaced
    try:
        token = _token_for_copy(job, client)
    except CredentialsInvalid:
        return _credentials_invalid(job, attempt)
    except K5Error as exc:
        return _not_sent_for_now(
            job,
            attempt,
            said("upload.sign_in_failed", k5_says=k5_words(exc)),
            "waiting.sign_in_failed",
        )
    with recording_calls(job) as calls:
        try:
            accepted = blockstorage.volume_upload_to_image(
                client,
                job.volume_id,
                job.image_name,
                force=job.force,
                disk_format=job.disk_format,
                container_format=job.container_format,
            )
        except K5Error as exc:
            error: K5Error | None = exc
        except CredentialsInvalid:
            # K5 refused the token (401: the upload was not taken) and signing in again
            # showed the credential rejected.
            return _credentials_invalid(job, attempt)
        else:
            error = None
    if error is not None:
        return _upload_refused(job, attempt, error)
    _set_outcome(attempt, Outcome.ACCEPTED)
    try:
        job.transition(
            JobState.UPLOADING,
            message=said(
                "upload.accepted",
                image_id=accepted.image_id,
                token_expires_at=token["token_expires_at"] or "?",
                expected_seconds=job.expected_seconds,
            ),
            detail={
                "image_id": accepted.image_id,
                "request_id": accepted.request_id,
                "calls": calls,
                **token,
            },
            image_id=accepted.image_id,
            submitted_at=timezone.now(),
            k5_request_ids=[*job.k5_request_ids, accepted.request_id],
        )
    except InvalidTransition:
        logger.warning("job %s moved while its upload was sent", job.pk)
    return "accepted"


def _token_for_copy(job: ImageJob, client) -> dict:
    """Have the client hold a token that outlives the copy (signing in afresh, under the
    user's sign-in lease, when it does not); what the upload's audit event records of it."""
    needed = copy_token_seconds(job.expected_seconds)
    held = client.keep_token_for(needed)
    return {
        "token_expires_at": held.expires.isoformat() if held.expires else None,
        "expected_copy_seconds": job.expected_seconds,
        "token_needed_seconds": int(needed),
    }


def _delete_replaced_image(job: ImageJob, client, attempt: UploadAttempt | None) -> str | None:
    """A retry replaces its original's image only when that image is not usable
    (replacement.py), decided again now from a fresh look-up by id: it is deleted just before
    the new upload leaves, so it stays while the retry could still be refused, cancelled or
    never sent. Returns why the upload was not sent, or None."""
    old = job.retry_of
    if old is None or not old.image_id or old.image_deleted_at:
        return None
    plan = None
    try:
        with recording_calls(job) as calls:
            plan = replaced_image(old, client)
            if plan is not None and not plan.kept:
                image.image_delete(client, old.image_id)
    except K5NotFound:
        plan = None
    except CredentialsInvalid:
        return _credentials_invalid(job, attempt)
    except K5Error as exc:
        return _not_sent_for_now(
            job,
            attempt,
            said("upload.replaced_lookup_failed", image_id=old.image_id, k5_says=k5_words(exc)),
            "waiting.replaced_failed",
        )
    detail = {
        "image_id": old.image_id,
        "replaced_by_job": job.pk,
        "replaces_image": plan.as_dict() if plan else None,
        "calls": calls,
    }
    if plan is None:
        message = said("upload.replaced_gone", image_id=old.image_id, job=old.pk)
    elif plan.kept:
        message = said(
            "upload.replaced_kept", image_id=old.image_id, job=old.pk, described=plan.described
        )
    else:
        message = said("upload.replaced_deleted", image_id=old.image_id, job=old.pk)
    if plan is None or not plan.kept:
        ImageJob.objects.filter(pk=old.pk).update(image_deleted_at=timezone.now())
    job.record(EventKind.ACTION, message, detail=detail)
    old.record(EventKind.ACTION, message, detail=detail)
    if plan is not None and plan.kept and plan.name == job.image_name:
        # It became usable after the retry was asked for: two images of one name would be
        # hard to tell apart, so this one is not created.
        _set_outcome(attempt, Outcome.NOT_SENT)
        error = said(
            "upload.replaced_became_usable",
            image_id=old.image_id,
            job=old.pk,
            image_name=job.image_name,
        )
        try:
            job.transition(JobState.FAILED, message=error, error_message=error)
        except InvalidTransition:
            logger.warning("job %s moved before it could be failed", job.pk)
        return "not sent: the image it replaces is usable and holds the name"
    return None


def _not_sent_for_now(job: ImageJob, attempt: UploadAttempt | None, why: Said, waiting: str) -> str:
    """K5 could not be asked before the upload left: back to the queue for a little while."""
    backoff = settings.ENGINE_UNAVAILABLE_BACKOFF_SECONDS
    return _back_to_queue(
        job,
        attempt,
        Outcome.NOT_SENT,
        why,
        not_before=timezone.now() + timedelta(seconds=backoff),
        waiting_reason=said(waiting, backoff_seconds=int(backoff)),
    )


def _credentials_invalid(job: ImageJob, attempt: UploadAttempt | None) -> str:
    """The project's K5 credential is rejected: the job waits for an admin."""
    return _back_to_queue(
        job,
        attempt,
        Outcome.NOT_SENT,
        said("upload.credential_rejected"),
        waiting_reason=credentials_waiting(job.project),
    )


def _upload_refused(job: ImageJob, attempt: UploadAttempt | None, exc: K5Error) -> str:
    if isinstance(exc, K5RateLimited):
        wait = max(int(exc.retry_after or 60), 1)
        return _back_to_queue(
            job,
            attempt,
            Outcome.RATE_LIMITED,
            said("upload.rate_limited", wait_seconds=wait),
            not_before=timezone.now() + timedelta(seconds=wait),
            waiting_reason=said("waiting.rate_limited", wait_seconds=wait),
        )
    if isinstance(exc, K5CredentialError):
        mark_credentials_invalid(job.project, exc)
        return _credentials_invalid(job, attempt)
    if isinstance(exc, K5UploadOutcomeUnknown):
        _set_outcome(attempt, Outcome.UNKNOWN)
        job.record(
            EventKind.NOTE,
            said("upload.outcome_unknown", k5_says=k5_words(exc)),
            detail={"error": str(exc)},
        )
        return "outcome unknown: left for reconciliation"
    if isinstance(exc, K5Unavailable):
        backoff = settings.ENGINE_UNAVAILABLE_BACKOFF_SECONDS
        return _back_to_queue(
            job,
            attempt,
            Outcome.NOT_SENT,
            said("upload.k5_unreachable", k5_says=k5_words(exc)),
            not_before=timezone.now() + timedelta(seconds=backoff),
            waiting_reason=said("waiting.k5_unreachable", backoff_seconds=int(backoff)),
        )
    _set_outcome(attempt, Outcome.REJECTED)
    _fail(job, said("upload.refused", k5_says=k5_words(exc)), exc)
    return "rejected"


def reconcile_submitting(
    job: ImageJob, volumes: dict[str, Volume], images: list[Image], now
) -> str | None:
    """A job stuck in `submitting`: find out from K5 whether its upload happened."""
    grace = timedelta(seconds=settings.ENGINE_SUBMIT_GRACE_SECONDS)
    attempt = job.upload_attempts.order_by("-sent_at").first()
    if job.submit_started_at is None:
        # Slot taken but the send task never ran (lost with a Redis worker, or still queued).
        if attempt and now - attempt.sent_at > grace:
            job.record(EventKind.NOTE, said("upload.task_lost"))
            dispatch.enqueue(dispatch.SEND_UPLOAD, job.pk)
            return "resent task"
        return None
    if now - job.submit_started_at < grace:
        # The call may still be in flight, or K5 may still be acting on an unclear answer
        # (a gateway's 502 can come back before Cinder has created the image).
        return None
    since = job.submit_started_at - CLOCK_SKEW
    ours = sorted(
        (
            image
            for image in images
            if image.name == job.image_name and image.created_at and image.created_at >= since
        ),
        key=lambda image: cast(datetime, image.created_at),  # never None: filtered above
    )
    if ours:
        image = ours[0]
        _set_outcome(attempt, Outcome.ACCEPTED)
        job.transition(
            JobState.UPLOADING,
            message=said("upload.accepted_found", image_id=image.id, status=image.status),
            detail={
                "image_id": image.id,
                "image_status": image.status,
                "image_created_at": image.created_at,
            },
            image_id=image.id,
            submitted_at=job.submit_started_at,
        )
        return "adopted"
    volume = volumes.get(job.volume_id)
    if volume is not None and volume.status == "uploading":
        return None  # K5 is busy with it; the image shows up in a later list
    _back_to_queue(
        job,
        attempt,
        Outcome.NOT_SENT,
        said("upload.never_happened"),
        detail={"volume_status": volume.status if volume else None},
    )
    return "requeued"


def _back_to_queue(
    job, attempt, outcome, message, *, not_before=None, waiting_reason="", detail=None
) -> str:
    _set_outcome(attempt, outcome)
    try:
        job.transition(
            JobState.QUEUED,
            message=message,
            detail=detail,
            submit_started_at=None,
            not_before=not_before,
            waiting_reason=waiting_reason,
        )
    except InvalidTransition:
        logger.warning("job %s moved before it could be queued again", job.pk)
    return f"requeued: {outcome}"


def _set_outcome(attempt: UploadAttempt | None, outcome: str) -> None:
    if attempt is None:
        return
    fields: dict[str, object] = {"outcome": outcome}
    if outcome not in UploadAttempt.FREE_OUTCOMES:
        # K5 counts the upload when the call reaches it, which is no later than now, when we
        # learn the outcome. Timed from now, our rolling window never reopens before K5's;
        # timed from when the slot was taken, the next upload could reach K5 just before its
        # window has passed and be refused with 413.
        fields["sent_at"] = timezone.now()
    UploadAttempt.objects.filter(pk=attempt.pk).update(**fields)


def _fail(job: ImageJob, message: Said, exc: K5Error) -> None:
    try:
        job.transition(
            JobState.FAILED,
            message=message,
            detail={"status": exc.status, "request_id": exc.request_id},
            error_message=message,
            error_detail=str(exc),
        )
    except InvalidTransition:
        logger.warning("job %s moved before it could be failed", job.pk)
