"""A 30-day bar chart of jobs by outcome, drawn as inline SVG on the server (no JS, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from imaging.models import JobState

# Each drawn in its colour from static/css/portal.css (`outcome-<state>`: a class, since the
# Content-Security-Policy refuses style=""); the legend and a table carry the numbers as text.
OUTCOMES = [JobState.SUCCEEDED, JobState.SYNC_FAILED, JobState.FAILED, JobState.CANCELLED]


@dataclass
class Bar:
    day: date
    x: float
    segments: list[tuple[str, str, float, float, int]]  # label, state, y, height, count
    total: int


def outcome_chart(jobs, *, days: int = 30, width: int = 600, height: int = 140) -> dict:
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = (
        jobs.filter(finished_at__date__gte=first, state__in=OUTCOMES)
        .annotate(day=TruncDate("finished_at"))
        .values("day", "state")
        .annotate(n=Count("id"))
    )
    counts: dict[date, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["day"], {})[row["state"]] = row["n"]
    peak = max((sum(c.values()) for c in counts.values()), default=0) or 1
    slot = width / days
    bars = []
    for i in range(days):
        day = first + timedelta(days=i)
        y = float(height)
        segments = []
        for state in OUTCOMES:
            n = counts.get(day, {}).get(state, 0)
            if n:
                h = height * n / peak
                y -= h
                segments.append((state.label, state.value, round(y, 1), round(h, 1), n))
        bars.append(
            Bar(
                day=day,
                x=round(i * slot + 1, 1),
                segments=segments,
                total=sum(counts.get(day, {}).values()),
            )
        )
    totals = {state: sum(c.get(state, 0) for c in counts.values()) for state in OUTCOMES}
    return {
        "bars": bars,
        "width": width,
        "height": height,
        "bar_width": round(slot - 2, 1),
        "legend": [(state.label, state.value, totals[state]) for state in OUTCOMES],
        "peak": peak,
        "first": first,
        "last": today,
        "total": sum(totals.values()),
        "summary": _("%(total)d finished jobs in the last %(days)d days")
        % {"total": sum(totals.values()), "days": days},
    }
