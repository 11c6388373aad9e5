"""Whether a retry deletes the image of the job it retries, or keeps it.

The vendor's remedy for a sync failure is to delete the image and create it again. But a job
that failed for another reason (stuck, an answer lost) can own an image that became `active`
afterwards, which people may already use: such an image is kept, and the retry needs another
name. So the image is deleted only when it is not usable — the old job is `sync_failed`, or
K5 does not show the image `active` without a `sync_status_reason`.

Decided from a fresh look-up by id each time: when the retry is shown and asked for, and again
just before the new upload is sent (K5 may have moved on in between).
"""

from __future__ import annotations

from dataclasses import dataclass

from imaging.k5 import K5Client, K5NotFound, image
from imaging.k5.types import Image
from imaging.models import ImageJob, JobState

DELETE = "delete"
KEEP = "keep"


@dataclass(frozen=True)
class ReplacedImage:
    """The old job's image as K5 showed it just now, and what the retry does with it."""

    id: str
    name: str
    status: str
    usable: bool
    action: str  # DELETE or KEEP

    @property
    def kept(self) -> bool:
        return self.action == KEEP

    @property
    def described(self) -> str:
        """`active, usable` / `active, sync failed` / `saving`: how it stands, in brief. An
        active image is deleted only because its sync failed (by K5's reason or the job's)."""
        if self.status != "active":
            return self.status
        return "active, usable" if self.kept else "active, sync failed"

    def as_dict(self) -> dict[str, str | bool]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "usable": self.usable,
            "action": self.action,
        }


def replacement_of(old_state: str, found: Image) -> str:
    """DELETE or KEEP: the one rule, for the retry page, the API and the upload task."""
    if old_state == JobState.SYNC_FAILED or not found.is_usable:
        return DELETE
    return KEEP


def replaced_image(job: ImageJob, client: K5Client) -> ReplacedImage | None:
    """What a retry of `job` does with its image, looked up by id now. None when there is
    nothing to decide: no image, one the portal already deleted, or K5 answers 404.

    Raises the facade's K5Error when K5 cannot be asked.
    """
    if not job.image_id or job.image_deleted_at:
        return None
    try:
        found = image.image_get(client, job.image_id)
    except K5NotFound:
        return None
    return ReplacedImage(
        id=found.id,
        name=found.name,
        status=found.status,
        usable=found.is_usable,
        action=replacement_of(job.state, found),
    )
