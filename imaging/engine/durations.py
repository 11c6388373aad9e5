"""How long things take: an upload's expected copy time, the token life it needs, and a
duration in the words messages use."""

from __future__ import annotations

import statistics

from django.conf import settings

from imaging.models import ImageJob, JobState, K5Project


def expected_seconds(project: K5Project, size_gb: int) -> int:
    """How long an upload of this size should take: learned from the project's last
    successful jobs (median seconds per GB), else the configured default."""
    done = (
        ImageJob.objects.filter(
            project=project,
            state=JobState.SUCCEEDED,
            submitted_at__isnull=False,
            upload_finished_at__isnull=False,
            volume_size_gb__gt=0,
        )
        .order_by("-finished_at")[:20]
        .values_list("submitted_at", "upload_finished_at", "volume_size_gb")
    )
    # `if start and end` only tells the type checker what the query's isnull=False guarantees.
    rates = [
        max((end - start).total_seconds(), 0) / size for start, end, size in done if start and end
    ]
    size_gb = max(size_gb, 1)
    if len(rates) >= 3:
        return max(int(statistics.median(rates) * size_gb), 1)
    return int(
        settings.ENGINE_EXPECTED_BASE_SECONDS + settings.ENGINE_EXPECTED_SECONDS_PER_GB * size_gb
    )


def copy_token_seconds(expected_seconds: int) -> float:
    """How long the token sending an upload must stay valid: Cinder copies the volume into
    Glance with it, and a token that expires first leaves the image `saving` for ever."""
    return max(expected_seconds, 1) * settings.ENGINE_COPY_TOKEN_FACTOR


def duration_words(seconds: float) -> str:
    """ "90 s", "25 min", "3 h", "2.5 h": a duration as people read it in messages."""
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f}".removesuffix(".0") + " h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
