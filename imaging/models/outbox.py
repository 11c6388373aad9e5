from __future__ import annotations

from django.db import models
from django.utils import timezone


class PendingTask(models.Model):
    """A task that must follow a commit, written in the same transaction as the change it
    follows (an outbox row): if the transaction commits, so does the promise to run the task,
    even when the broker cannot take it at that moment (Redis down). `imaging.dispatch` hands
    it to the broker after the commit and deletes it; what the broker refused stays here until
    the engine tick hands it over (`dispatch.send_pending`)."""

    name = models.CharField(max_length=200)  # the task's dotted path (imaging.dispatch)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name}{tuple(self.args)} since {self.created_at:%Y-%m-%d %H:%M:%S}"
