"""What the portal writes about its jobs — audit events, job errors, waiting reasons — stored
as meaning and put into words when read, in the reader's language.

An event or an error keeps a stable `code` ("job.requested", "sync.failed") and its
parameters (JSON); `render(code, params, language)` makes the sentence with gettext. The
English rendering is also stored beside them (`JobEvent.message`, `ImageJob.error_message`)
for the logs and for what reads the database directly. Rows written before codes existed
have none: their stored text is shown as is.

K5's own words (its error texts, an image's `sync_status_reason`) are never translated: they
are appended after the explanation, marked as K5's ("K5 says: …" / 「K5 の応答: …」).

This module sits beside the models (it imports nothing of the project), so the engine, the
models, pages, API and exports all use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Parameters holding K5's own words: shown verbatim, marked as K5's, in every language.
K5_WORDS = ("k5_says", "sync_status_reason")
K5_SAYS = _("K5 says: %(text)s")

# Parameters whose value is a name from a closed set (a step, a state): rendered by its
# label in the reader's language. Filled by the models that define those sets.
LABELS: dict[str, Any] = {}


def label_params(**choices: Any) -> None:
    """`label_params(step=StepName)`: a parameter named `step` reads as StepName's label."""
    LABELS.update(choices)


MESSAGES: dict[str, Promise] = {
    # --- requests and what people do -----------------------------------------------------
    "job.requested": _("Requested image “%(image_name)s” from volume %(volume)s."),
    "job.os_stopped_confirmed": _(
        "Confirmed that the OS of %(server)s is stopped although K5 reports it %(status)s."
    ),
    "job.preparation_confirmed": _("Confirmed the preparation: %(preparation)s."),
    "job.retried_as": _("Retried as job %(job)s."),
    "job.cancelled_by": _("Cancelled by %(user)s."),
    "job.after_task.restore_snapshot": _("Restored the server's snapshot."),
    "job.after_task.restart_server": _("Restarted the server."),
    "job.part_of_batch": _("Part of batch %(batch)s."),
    "job.queued_by_schedule": _(
        "Queued by schedule “%(schedule)s” for its run due at %(due_at)s (batch %(batch)s)."
    ),
    "retry.keeps_image": _(
        "Image %(image_id)s of job %(job)s (%(described)s) is kept; this job creates another image."
    ),
    "retry.replaces_image": _(
        "Image %(image_id)s of job %(job)s (%(described)s) is to be deleted just before this "
        "job's upload is sent, if it is still not usable then."
    ),
    "k5.call": _("%(method)s %(path)s → %(outcome)s"),
    # --- the queue and the upload --------------------------------------------------------
    "slot.taken_stopping_server": _("Upload slot taken; stopping the server first."),
    "slot.taken": _("Upload slot taken; sending to K5."),
    "upload.accepted": _(
        "K5 accepted the upload; image %(image_id)s is being created (sent with a K5 sign-in "
        "valid until %(token_expires_at)s, for a copy expected to take %(expected_seconds)s)."
    ),
    "upload.accepted_found": _(
        "The upload call's answer was lost, but K5 shows image %(image_id)s (%(status)s) "
        "created from it; following that image."
    ),
    "upload.never_happened": _(
        "K5 shows no image and the volume is not uploading: the interrupted upload never "
        "happened; it will be sent again."
    ),
    "upload.task_lost": _("The upload task was lost before it ran; sending again."),
    "upload.sign_in_failed": _(
        "Could not sign in to K5; the upload was not sent and will be tried again."
    ),
    "upload.replaced_lookup_failed": _(
        "The image %(image_id)s this job replaces could not be looked up or deleted; the "
        "upload was not sent and will be tried again."
    ),
    "upload.rate_limited": _(
        "K5 answered that the project's upload limit is reached; waiting %(wait_seconds)s as "
        "it asked."
    ),
    "upload.credential_rejected": _(
        "The K5 credential was rejected; the job waits until an admin updates it."
    ),
    "upload.outcome_unknown": _(
        "K5 did not answer the upload call clearly; K5 will be checked before anything is "
        "sent again."
    ),
    "upload.k5_unreachable": _(
        "K5 could not be reached; the upload was not sent and will be tried again."
    ),
    "upload.refused": _("K5 refused to create the image."),
    "upload.replaced_gone": _(
        "Image %(image_id)s of job %(job)s, which this job replaces, was already gone."
    ),
    "upload.replaced_kept": _("Kept image %(image_id)s of job %(job)s: it is %(described)s in K5."),
    "upload.replaced_deleted": _(
        "Deleted image %(image_id)s of job %(job)s just before sending its replacement."
    ),
    "upload.replaced_became_usable": _(
        "Image %(image_id)s of job %(job)s became usable after this retry was asked for, so it "
        "is kept and holds the name “%(image_name)s”; retry with another name."
    ),
    "upload.stuck": _(
        "The upload looks stuck: it has run %(elapsed_seconds)s, more than %(factor)s times the "
        "%(expected_seconds)s expected for this size. K5 was not touched; check the volume and "
        "image in K5 before retrying."
    ),
    "upload.volume_deleted": _("The volume was deleted while the image was being created."),
    "upload.copy_failed_removed": _(
        "K5 could not create the image (the copy failed and K5 removed the image)."
    ),
    "upload.image_deleted": _("The image was deleted in K5 before it was ready."),
    "upload.image_ended": _("K5 could not create the image: it ended %(status)s."),
    "upload.volume_error": _("The volume went into an error state during the upload."),
    "upload.copy_stopped": _(
        "The copy stopped before the image was complete (an expired K5 sign-in is the usual cause)."
    ),
    # --- waiting reasons (short) ---------------------------------------------------------
    "waiting.sign_in_failed": _("K5 sign-in failed; trying again in %(backoff_seconds)s."),
    "waiting.replaced_failed": _(
        "Deleting the image it replaces failed; trying again in %(backoff_seconds)s."
    ),
    "waiting.rate_limited": _("K5's upload limit is reached; next try after %(wait_seconds)s."),
    "waiting.k5_unreachable": _("K5 was unreachable; trying again in %(backoff_seconds)s."),
    "waiting.credentials_invalid": _(
        "The K5 credential of this project was rejected; an admin must update it."
    ),
    "credentials.rejected": _(
        "K5 rejected the credential of %(username)s. No further attempt is made until an admin "
        "updates it (K5 locks the user after 5 wrong passwords in 15 minutes)."
    ),
    "credentials.rejected_shared": _(
        "K5 rejected the credential of %(username)s, signing in for project %(project)s. No "
        "further attempt is made until an admin updates it (K5 locks the user after 5 wrong "
        "passwords in 15 minutes)."
    ),
    "credentials.accepted_again": _(
        "K5 accepted the credential of %(username)s again; waiting jobs go on."
    ),
    # --- the image and its zones ---------------------------------------------------------
    "image.active_checking_zones": _(
        "The image is active; checking that every availability zone received it (watched for "
        "%(settle_seconds)s, for %(size_gb)s GB)."
    ),
    "image.synced_restoring": _(
        "The image is active and registered to every availability zone; restoring the "
        "server's snapshot and starting it."
    ),
    "image.synced": _("The image is active and registered to every availability zone."),
    "image.became_unusable": _("The image became %(status)s while its zones were being checked."),
    "sync.failed": _(
        "The image could not be registered to availability zone %(zone)s. The remedy is to "
        "delete the image and create it again."
    ),
    "sync.failed_unknown_zone": _(
        "The image could not be registered to another availability zone. The remedy is to "
        "delete the image and create it again."
    ),
    "sync.failed_late": _(
        "The image could not be registered to availability zone %(zone)s. K5 reported it "
        "after the job had succeeded: the image is no longer usable. The remedy is to delete "
        "the image and create it again."
    ),
    "sync.failed_late_unknown_zone": _(
        "The image could not be registered to another availability zone. K5 reported it after "
        "the job had succeeded: the image is no longer usable. The remedy is to delete the "
        "image and create it again."
    ),
    "error.sync_failed": _(
        "The image is not usable: registering it to availability zone %(zone)s failed."
    ),
    "error.sync_failed_unknown_zone": _(
        "The image is not usable: registering it to another availability zone failed."
    ),
    "leftover.deleted": _("Deleted the leftover %(status)s image %(image_id)s."),
    "leftover.not_deleted": _("Could not delete the leftover image %(image_id)s."),
    # --- automation (stop/start, Windows round trip) -------------------------------------
    "automation.succeeded": _("The image is usable, the server is restored and started again."),
    "automation.snapshot_reused": _(
        "Using snapshot %(snapshot_id)s, taken before Sysprep for job %(job)s; the upload "
        "starts once the server is SHUTOFF."
    ),
    "automation.snapshot_taken": _(
        "Snapshot %(snapshot_id)s taken. Run Sysprep on the server now (generalize, "
        "out-of-box experience, shut down); the upload starts once the server is SHUTOFF."
    ),
    "automation.server_deleted": _("The server was deleted while waiting for its shutdown."),
    "automation.shut_down": _(
        "The server %(server)s is shut down after Sysprep; the upload is queued."
    ),
    "automation.shutdown_timed_out": _(
        "Cancelled: the server was not shut down within %(wait_seconds)s of the snapshot; the "
        "snapshot is deleted."
    ),
    "automation.server_shutoff_sending": _("The server is SHUTOFF; sending the upload with force."),
    "automation.stop_settled_sending": _(
        "The server's stop is already settled; sending the upload with force."
    ),
    "automation.started_until_turn": _(
        "The upload went back to the queue after the server was stopped, so the server was "
        "started again; it is stopped again when the upload's turn comes."
    ),
    "step.closed": _("%(step)s: %(step_state)s. %(detail)s"),
    "step.asked_snapshot": _("Asked K5 for snapshot %(snapshot_id)s of the volume."),
    "step.asked_stop": _("Asked K5 to stop the server %(server)s."),
    "step.asked_start": _("Asked K5 to start the server %(server)s."),
    "step.asked_restore": _("Asked K5 to restore the volume from snapshot %(snapshot_id)s."),
    "step.asked_delete_snapshot": _("Asked K5 to delete snapshot %(snapshot_id)s."),
    "step.snapshot_gone": _("The snapshot %(snapshot_id)s no longer exists in K5."),
    "step.snapshot_error": _("K5 could not take the snapshot: %(snapshot_id)s is in error."),
    "step.server_not_active": _("The server is %(status)s: the portal stops only an ACTIVE one."),
    "step.server_not_shutoff": _("The server is %(status)s: the portal starts only a SHUTOFF one."),
    "step.restore_invisible": _(
        "K5 accepted the restore but the volume shows no sign of it; check the volume in K5, "
        "then retry the step or mark it done."
    ),
    "step.restore_needs_shutoff": _(
        "The server is %(status)s: restoring its volume needs it SHUTOFF. Shut it down, then "
        "retry the step."
    ),
    "step.did_not_stop": _("The server did not stop within %(waited_seconds)s of the request."),
    "step.did_not_start": _("The server did not start within %(waited_seconds)s of the request."),
    "step.refused": _(
        "%(step)s did not succeed: %(why)s Retry the step, or do it in K5 yourself and mark it "
        "done."
    ),
    "step.k5_refused": _("K5 refused it."),
    "step.k5_refused_call": _("K5 refused %(step)s."),
    "step.transient": _("%(step)s: K5 answered; trying again in %(wait_seconds)s."),
    "step.retried_by": _("%(step)s: retried by %(user)s."),
    "step.marked_done_by": _("%(step)s: marked done by hand by %(user)s."),
    "step.restore_asked": _(
        "%(user)s asked to restore the server now: the snapshot is restored, the server "
        "started and the snapshot deleted; no image is kept from this job."
    ),
    # --- what an automation step shows of itself (JobStep.detail) ------------------------
    "text.literal": _("%(text)s"),
    "detail.handed_over": _("Handed over to job %(job)s, which uses the same snapshot."),
    "detail.sending_upload": _("Sending the upload to K5."),
    "detail.back_in_queue": _("Back in the queue; sent again when its turn comes."),
    "detail.again_at_turn": _("Done again when the upload's turn comes."),
    "detail.image_created": _("K5 created image %(image_id)s."),
    "detail.not_sent": _("Not sent: the job is %(job_state)s."),
    "detail.ended_first": _("Not needed: the job ended first."),
    "detail.stopped_before_end": _("Stopped before the job ended."),
    "detail.not_stopped_by_portal": _("Not needed: the portal did not stop the server."),
    "detail.job_ended": _("The job is %(job_state)s."),
    "detail.not_shut_down_for_sysprep": _("Not needed: the server was not shut down for Sysprep."),
    "detail.snapshot_available": _("Snapshot %(snapshot_id)s is available."),
    "detail.waiting_for_sysprep": _("Waiting for Sysprep's shutdown."),
    "detail.snapshot_in_progress": _("K5 is taking snapshot %(snapshot_id)s (%(status)s)."),
    "detail.server_gone": _("The server %(server)s no longer exists."),
    "detail.server_shutoff": _("%(server)s is SHUTOFF."),
    "detail.server_waiting_sysprep": _("The server is %(status)s; waiting for Sysprep's shutdown."),
    "detail.server_stayed": _("The server stayed %(status)s for %(waited_seconds)s."),
    "detail.already_shutoff": _(
        "The server was already SHUTOFF; the portal will not start it afterwards."
    ),
    "detail.k5_working": _("K5 is working on it (%(task)s)."),
    "detail.waiting_copy_end": _("Waiting for the copy to end (the volume is %(status)s)."),
    "detail.server_active_again": _("%(server)s is ACTIVE again."),
    "detail.server_already_active": _("%(server)s was already ACTIVE."),
    "detail.restoring": _("K5 is restoring the volume (%(status)s)."),
    "detail.volume_back": _("The volume is back (%(status)s)."),
    "detail.waiting_volume_rest": _("Waiting for the volume to be at rest (%(status)s)."),
    "detail.snapshot_kept": _("Snapshot %(snapshot_id)s is kept, as asked."),
    "detail.no_snapshot": _("No snapshot was taken."),
    "detail.snapshot_status": _("Snapshot %(snapshot_id)s is %(status)s."),
    "detail.snapshot_deleted": _("Snapshot %(snapshot_id)s is deleted."),
    "detail.transient": _("K5 did not answer clearly; trying again."),
    "detail.waiting_credentials": _(
        "Waiting for a working K5 credential (a project admin updates it)."
    ),
    "step.waiting_credentials": _(
        "%(step)s: K5 rejected the project's credential; trying again in %(wait_seconds)s, "
        "once a project admin has updated it."
    ),
    "detail.retried_by": _("Retried by %(user)s."),
    "detail.done_by_hand": _("Done by hand, as %(user)s said."),
    # --- schedules and retention -------------------------------------------------------
    "schedule.created": _(
        "Schedule “%(schedule)s” created: %(cron)s (%(time_zone)s), keeping %(keep)s image(s) "
        "per volume."
    ),
    "k5.sign_in_busy": _(
        "Another worker has been signing in to K5 for too long; trying again later."
    ),
    "k5.credential_changed": _(
        "The project's K5 credential was changed meanwhile; the call is made again with the "
        "new one."
    ),
    "schedule.changed": _("Changed schedule “%(schedule)s”: %(changes)s."),
    "schedule.paused": _("Paused schedule “%(schedule)s”."),
    "schedule.resumed": _("Resumed schedule “%(schedule)s”."),
    "schedule.deleted": _(
        "Deleted schedule “%(schedule)s”; its images are kept and no longer pruned."
    ),
    "schedule.run_started": _("Run due at %(due_at)s started as batch %(batch)s."),
    "schedule.run_started_missed": _(
        "Run due at %(due_at)s started as batch %(batch)s. %(count)s times had passed while "
        "the portal was not running; they are run once."
    ),
    "schedule.volumes_skipped": _("Batch %(batch)s: %(count)s volume(s) skipped: %(volumes)s"),
    "retention.postponed": _(
        "Retention postponed: K5 could not be asked about the images to delete; nothing was "
        "deleted. Tried again after the schedule's next success."
    ),
    "retention.gone": _(
        "Image %(image_id)s (“%(image_name)s”) of job %(job)s was already gone from K5 (404)."
    ),
    "retention.kept_protected": _(
        "Kept image %(image_id)s (“%(image_name)s”) of job %(job)s: it is protected in K5."
    ),
    "retention.kept_foreign": _(
        "Kept image %(image_id)s of job %(job)s: K5 says another project (%(owner)s) owns it."
    ),
    "retention.not_deleted": _(
        "Could not delete image %(image_id)s (“%(image_name)s”) of job %(job)s. Tried again "
        "after the schedule's next success."
    ),
    "retention.deleted": _(
        "Deleted image %(image_id)s (“%(image_name)s”) of job %(job)s: schedule “%(schedule)s” "
        "keeps the newest %(keep)s per volume."
    ),
    # --- notifications -------------------------------------------------------------------
    "notify.email_sent": _("E-mailed %(recipient)s."),
    "notify.email_failed": _("E-mail to %(recipient)s failed: %(error)s"),
    "notify.webhook_delivered": _("Webhook %(origin)s delivered (%(answer)s)."),
    "notify.webhook_failed": _("Webhook %(origin)s failed (%(answer)s)."),
    # === Added for issue 19, part 2 (access, credentials, batch refusals) ===================
    # Kept at the end of the registry so that parallel additions above merge cleanly.
    # --- access: who joined or left a project, and why (imaging/signin/memberships.py) --
    "access.joined_k5": _(
        "%(account)s joined the project as %(role)s through a K5 sign-in (K5 roles: %(because)s)."
    ),
    "access.joined_sso": _(
        "%(account)s joined the project as %(role)s through a single sign-on (groups: %(because)s)."
    ),
    "access.left_k5": _(
        "%(account)s no longer belongs to the project: at a K5 sign-in, nothing gave a portal "
        "role (K5 roles: %(because)s)."
    ),
    "access.left_sso": _(
        "%(account)s no longer belongs to the project: at a single sign-on, nothing gave a "
        "portal role (groups: %(because)s)."
    ),
    "access.role_changed_k5": _(
        "%(account)s's role changed from %(before)s to %(after)s at a K5 sign-in (K5 roles: "
        "%(because)s)."
    ),
    "access.role_changed_sso": _(
        "%(account)s's role changed from %(before)s to %(after)s at a single sign-on (groups: "
        "%(because)s)."
    ),
    # A role or "none", as a parameter of the sentences above (nested: {"code": ...}).
    "access.role.viewer": _("viewer"),
    "access.role.member": _("member"),
    "access.role.admin": _("admin"),
    "access.none": _("none"),
    # --- a schedule's run: one skipped volume and why (the why: a refusal, see below) ----
    "schedule.volume_skipped": _("%(volume)s (%(reason)s)"),
}


@dataclass(frozen=True)
class Said:
    """One message as meaning: its code and parameters (JSON-able)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def english(self) -> str:
        return render(self.code, self.params, "en")

    def __str__(self) -> str:
        return render(self.code, self.params)

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


def render_meaning(meaning: Mapping[str, Any], language: str | None = None) -> str:
    """A message stored as meaning of either kind — a code and its parameters (`Said`), or
    a text (`render_text`) — in `language` (default: the active one)."""
    if language:
        with translation.override(language):
            return render_meaning(meaning)
    return _word("", meaning)


def k5_words(exc: Exception, *, detailed: bool = False) -> str | Said:
    """What a K5 error says, to store as `k5_says`: K5's words (its message; `detailed`: with
    the call, the status and K5's request id) — or, for an error that is the portal's own
    finding (`K5Error.said`), that finding, rendered as the portal's words in the reader's
    language and never marked as K5's."""
    found = getattr(exc, "said", None)
    if isinstance(found, Said):
        return found
    return str(exc) if detailed else str(getattr(exc, "message", exc))


def said(code: str, **params: Any) -> Said:
    """A message to store; an unknown code is a programming error, caught at once."""
    if code not in MESSAGES:
        raise KeyError(f"no message template for code {code!r}")
    return Said(code, {key: _json(value) for key, value in params.items()})


def _json(value: Any) -> Any:
    if isinstance(value, Said):
        return value.as_json()
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, Promise):
        return str(value)
    return value


class _Lenient(dict):
    """A parameter a template names but an (older) row lacks reads as an ellipsis."""

    def __missing__(self, key: str) -> str:
        return "…"


def render(code: str, params: Mapping[str, Any] | None = None, language: str | None = None) -> str:
    """The sentence for `code` in `language` (default: the active one)."""
    if language:
        with translation.override(language):
            return render(code, params)
    params = params or {}
    template = MESSAGES.get(code)
    if template is None:
        # Written by a newer version than this one: say what we can.
        return str(params.get("text") or code)
    values = _Lenient(
        {key: _word(key, value) for key, value in params.items() if key not in K5_WORDS}
    )
    text = (str(template) % values).strip()
    for key in K5_WORDS:
        value = params.get(key)
        if isinstance(value, Mapping) and "code" in value:
            # The portal's own finding where K5's words would be (`k5_words`): its sentence.
            text = f"{text} {render(value['code'], value.get('params'))}"
        elif value:
            text = f"{text} {K5_SAYS % {'text': value}}"
    return text


def _word(key: str, value: Any) -> str:
    if isinstance(value, Mapping) and "code" in value:
        return render(value["code"], value.get("params"))
    if isinstance(value, Mapping) and ({"msgid", "texts", "text"} & value.keys()):
        return render_text(value)
    if isinstance(value, list):
        return "; ".join(_word(key, item) for item in value)
    if key in LABELS and value in LABELS[key].values:
        return str(LABELS[key](value).label)
    if key.endswith("_seconds") and isinstance(value, int | float):
        return duration(value)
    if key.endswith("_at") and isinstance(value, str):
        return _moment(value)
    if value is None:
        return "—"
    return str(value)


def _moment(value: str) -> str:
    """An ISO 8601 moment, in the active time zone (the reader's), to the minute."""
    moment = parse_datetime(value)
    if moment is None or timezone.is_naive(moment):
        return value
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i T")


def duration(seconds: float) -> str:
    """ "90 s", "25 min", "2.5 h" in English; 「90 秒」「25 分」「2.5 時間」 in Japanese."""
    if seconds >= 2 * 3600:
        hours = f"{seconds / 3600:.1f}".removesuffix(".0")
        return str(_("%(n)s h") % {"n": hours})
    if seconds >= 120:
        return str(_("%(n)s min") % {"n": f"{seconds / 60:.0f}"})
    return str(_("%(n)s s") % {"n": f"{seconds:.0f}"})


# The language an API request reads the portal's messages in (its Accept-Language, else the
# user's saved language), while everything else it says stays English (imaging/api/views.py).
_reader: ContextVar[str | None] = ContextVar("reader_language", default=None)


def read_in(language: str | None) -> Token:
    return _reader.set(language)


def stop_reading(token: Token) -> None:
    _reader.reset(token)


def reader_language() -> str:
    return _reader.get() or translation.get_language() or settings.LANGUAGE_CODE


def for_reader(code: str, params: Mapping[str, Any] | None, stored: str) -> str:
    """What a row says in the reader's language (see `read_in`)."""
    return render(code, params, reader_language()) if code else stored


def text_of(code: str, params: Mapping[str, Any] | None, stored: str) -> str:
    """What a row says in the active language: rendered from its code, else its stored text
    (rows written before codes existed)."""
    return render(code, params) if code else stored


# --- Texts kept as their gettext msgid: the engine's refusals (imaging/engine/errors.py) ------
# A refusal's message is a lazy translation written where the rule is (not a code here); what
# must outlive the request (a batch's refused volumes) keeps it as one of:
#   {"msgid": …, "params": {…}}  translated and filled in when read (a parameter may itself be
#                                 one of these three);
#   {"texts": {language: …}}     a composition no msgid re-renders, in every language then;
#   {"text": …}                  a literal (K5's words, a name): the same in every language.
def render_text(meaning: Mapping[str, Any], language: str | None = None) -> str:
    """A stored text (above) in `language` (default: the active one)."""
    if language:
        with translation.override(language):
            return render_text(meaning)
    if "msgid" in meaning:
        template = translation.gettext(meaning["msgid"])
        params = meaning.get("params") or {}
        if not params:
            return template
        values = {key: _text_word(value) for key, value in params.items()}
        try:
            return template % values
        except (KeyError, TypeError, ValueError):
            return template  # a template changed since: its words, unfilled
    if "texts" in meaning:
        texts = meaning["texts"]
        return str(texts.get(translation.get_language()) or texts.get("en") or "")
    return str(meaning.get("text", ""))


def _text_word(value: Any) -> Any:
    """A parameter of a stored text: raw (a `%(limit)d` needs its int), or a text itself."""
    if isinstance(value, Mapping) and ({"msgid", "texts", "text"} & value.keys()):
        return render_text(value)
    return value
