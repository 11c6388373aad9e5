"""The audit history: append-only, one row per transition, K5 call that mattered, human action
and notification. Never updated or deleted through the application."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from imaging.messages import Said, text_of


class EventKind(models.TextChoices):
    TRANSITION = "transition", _("State change")
    K5_CALL = "k5_call", _("K5 call")
    ACTION = "action", _("Human action")
    NOTIFICATION = "notification", _("Notification")
    NOTE = "note", _("Engine note")
    ACCESS = "access", _("Access change")


WORKER = "worker"
logger = logging.getLogger("imaging.events")


class AppendOnly(Exception):
    """Raised on any attempt to change or remove an audit event."""


class JobEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("audit events are never updated")

    def delete(self):
        raise AppendOnly("audit events are never deleted")


class JobEvent(models.Model):
    job = models.ForeignKey(
        "imaging.ImageJob", on_delete=models.PROTECT, related_name="events", null=True, blank=True
    )
    project = models.ForeignKey(
        "imaging.K5Project", on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    # The actor is frozen as a name: the history must still read right after a user is renamed
    # or removed. `actor` is None for the engine (actor_name "worker").
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    # What happened, as meaning (imaging/messages.py): rendered in the reader's language.
    # Empty for rows written before codes existed: their `message` is shown as is.
    code = models.CharField(max_length=64, blank=True, db_index=True)
    params = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # The English rendering at record time: for the logs and for what reads the table.
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = JobEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["project", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name}: {self.message}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("audit events are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit events are never deleted")

    @property
    def text(self) -> str:
        """The event's sentence in the active language."""
        return text_of(self.code, self.params, self.message)

    @classmethod
    def record(
        cls,
        *,
        project_id: int,
        job_id: int | None,
        kind: str,
        message: str | Said = "",
        actor=None,
        code: str = "",
        params: dict | None = None,
        from_state: str = "",
        to_state: str = "",
        detail: dict | None = None,
        actor_name: str | None = None,
    ) -> JobEvent:
        """`actor_name` names an actor that is no user (a schedule: "schedule:<name>").
        The message is a `Said` (imaging.messages.said) or `code`/`params`; a plain string is
        stored as literal text (shown as is in every language)."""
        if isinstance(message, Said):
            code, params = message.code, message.params
        if code:
            message = Said(code, params or {}).english()
        event = cls.objects.create(
            project_id=project_id,
            job_id=job_id,
            kind=kind,
            code=code,
            params=params or {},
            message=message,
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_name=actor_name or (actor.get_username() if actor is not None else WORKER),
            from_state=from_state,
            to_state=to_state,
            detail=detail or {},
        )
        # The audit trail is also the engine's story in the log: one line per event.
        logger.info(
            "%s%s",
            f"{from_state} -> {to_state}: " if to_state else "",
            message,
            extra={
                "event": kind,
                "job_id": job_id,
                "project_id": project_id,
                "actor": event.actor_name,
                "code": code,
            },
        )
        return event
