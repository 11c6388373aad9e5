"""The last volume list K5 gave for a project, kept for the pages and the API to answer from.

A web request never waits on K5 for long: a worker task lists the volumes (and the servers
they are attached to) and stores them here; pages show the list with its age. Shared by every
web and worker process through the database, so one listing serves every member of a project.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class VolumeInventory(models.Model):
    project = models.OneToOneField(
        "imaging.K5Project", on_delete=models.CASCADE, related_name="inventory"
    )
    # The facade's Volume and Server records as plain data (see imaging.engine.inventory).
    volumes = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    servers = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # When a listing was last asked for: listings are coalesced on it, across every host.
    requested_at = models.DateTimeField(null=True, blank=True)
    # Why the last listing failed, and when; the volumes above stay those of the last success.
    error = models.TextField(blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    # The same, when it is the portal's own sentence, as meaning (rendered for the reader,
    # imaging.messages.render_meaning); empty when `error` is K5's words.
    error_said = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "volume inventories"

    def __str__(self) -> str:
        return f"volumes of {self.project_id} as of {self.refreshed_at}"
