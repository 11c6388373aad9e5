"""What the engine last did, for readiness checks and metrics that must never call K5.

Rows, not cache keys: without Redis every process has its own memory cache, so a web process
would never see what a worker wrote, and a row also survives a restart. The writes are one
UPDATE per tick and one per polled project — nothing next to the tick's own work.
"""

from __future__ import annotations

from django.db import IntegrityError, models, transaction
from django.utils import timezone

TICKER = "ticker"


class EngineHeartbeat(models.Model):
    """When the engine last completed a tick (written by every tick, idle or not)."""

    name = models.CharField(max_length=32, primary_key=True)
    ticked_at = models.DateTimeField()
    duration = models.FloatField(default=0)  # seconds the tick took
    holder = models.CharField(max_length=128, blank=True)  # host:pid of the ticking process
    projects = models.PositiveIntegerField(default=0)  # projects polled by that tick

    def __str__(self) -> str:
        return f"{self.name} ticked at {self.ticked_at} on {self.holder}"

    @classmethod
    def beat(cls, *, duration: float, holder: str, projects: int, name: str = TICKER) -> None:
        values = {
            "ticked_at": timezone.now(),
            "duration": duration,
            "holder": holder[:128],
            "projects": projects,
        }
        if cls.objects.filter(name=name).update(**values):
            return
        try:
            with transaction.atomic():
                cls.objects.create(name=name, **values)
        except IntegrityError:  # another host wrote the first beat at the same moment
            cls.objects.filter(name=name).update(**values)

    @classmethod
    def last(cls, name: str = TICKER) -> EngineHeartbeat | None:
        return cls.objects.filter(name=name).first()


class ProjectPoll(models.Model):
    """The outcome of the engine's last K5 poll of one project (kept only for the last one).

    A project is polled only while it has jobs K5 is working on, so an old row means "idle",
    not "unreachable".
    """

    project = models.OneToOneField(
        "imaging.K5Project", on_delete=models.CASCADE, primary_key=True, related_name="last_poll"
    )
    polled_at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"poll of project {self.project_id} at {self.polled_at}: {self.error or 'ok'}"

    @classmethod
    def record(cls, project_id: int, error: str = "") -> None:
        cls.objects.update_or_create(
            project_id=project_id,
            defaults={"polled_at": timezone.now(), "ok": not error, "error": error},
        )
