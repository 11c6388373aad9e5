from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, models, transaction
from django.utils import timezone


class EngineLease(models.Model):
    """A named, expiring lease: at most one holder at a time across every host.

    Taken with a conditional UPDATE (works alike on SQLite and PostgreSQL), so a holder that
    dies simply lets its lease run out.
    """

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=128, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at}"

    @classmethod
    def acquire(cls, name: str, holder: str, seconds: float) -> bool:
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        taken = (
            cls.objects.filter(name=name)
            .filter(models.Q(expires_at__lte=now) | models.Q(holder=holder))
            .update(holder=holder, expires_at=until)
        )
        if taken:
            return True
        try:
            with transaction.atomic():
                cls.objects.create(name=name, holder=holder, expires_at=until)
        except IntegrityError:
            return False
        return True

    @classmethod
    def release(cls, name: str, holder: str) -> None:
        cls.objects.filter(name=name, holder=holder).update(expires_at=timezone.now())
