"""A project's volumes as members see them: with the attached server's power state, the OS,
and whether each can be imaged now (and why not) — from two cached K5 list calls, never one
call per row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from imaging.engine.connections import client_for
from imaging.engine.validation import Eligibility, eligibility
from imaging.k5 import blockstorage, compute
from imaging.k5.types import Server, Volume
from imaging.models import ImageJob, K5Project


@dataclass(frozen=True)
class VolumeRow:
    volume: Volume
    server: dict | None
    verdict: Eligibility

    @property
    def os_family(self) -> str:
        return self.volume.os_family


@dataclass(frozen=True)
class Inventory:
    rows: list[VolumeRow]
    refreshed_at: datetime


def project_inventory(project: K5Project, *, refresh: bool = False) -> Inventory:
    """Raises the facade's K5Error (or CredentialsInvalid) when K5 cannot be asked."""
    key = f"k5-inventory:{project.pk}:{project.k5_project_id}"
    cached = None if refresh else cache.get(key)
    if cached is None:
        client = client_for(project)
        volumes = blockstorage.volume_list(client)
        listed: list[Server] = []
        if any(volume.attached_server_id for volume in volumes):
            listed = compute.server_list(client)
        cached = (volumes, {server.id: server for server in listed}, timezone.now())
        cache.set(key, cached, settings.K5_INVENTORY_CACHE_SECONDS)
    volumes, servers, refreshed_at = cached
    # Which volumes our jobs hold is read fresh: it changes with every submission.
    running = set(
        ImageJob.objects.active().filter(project=project).values_list("volume_id", flat=True)
    )
    rows = []
    for volume in sorted(volumes, key=lambda v: (v.name.lower(), v.id)):
        found = servers.get(volume.attached_server_id) if volume.attached_server_id else None
        server = {"id": found.id, "name": found.name, "status": found.status} if found else None
        rows.append(
            VolumeRow(volume, server, eligibility(volume, server, job_running=volume.id in running))
        )
    return Inventory(rows=rows, refreshed_at=refreshed_at)
