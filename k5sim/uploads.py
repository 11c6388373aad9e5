"""The life of one `os-volume_upload_image`: rate limit, timeline, faults, zone sync.

Timeline (K5 seconds after acceptance, see the scenario settings):
  0                        volume `uploading`, image `queued`
  saving_after_seconds     image `saving`
  base + size * per_gb     image `active` (or `killed` by an upload_failure fault, or deleted
                           by one that `leaves` nothing; or left
                           `saving` when the caller's token expired first);
                           the volume returns to `available` / `in-use`
  ... + sync_seconds       registration to each other zone of the region; a sync_failure
                           fault gives the image K5's `sync_status_reason` instead (at
                           active + its `after_seconds`, when later: a late failure)
A volume_vanish fault removes the volume part way through and leaves the image `killed`.
Every step is an event on the world's heap; each re-checks the state it finds, because a
client may have deleted the image or the control API the volume in between.
"""

from __future__ import annotations

import bisect
import hashlib
import uuid
from typing import Any

from .model import Upload, Volume

GIB = 1024**3

# Keys of volume_image_metadata that describe the source image rather than the OS; Cinder
# does not copy them onto the new image.
SOURCE_IMAGE_KEYS = {
    "image_id",
    "image_name",
    "checksum",
    "size",
    "min_disk",
    "min_ram",
    "disk_format",
    "container_format",
}


def sync_failure_reason(server: str, image_id: str) -> str:
    """K5's wording, from the vendor page, for a failed registration to another zone."""
    return (
        f"ERROR:A timeout occurred during synchronize image the server({server}) "
        f"in the image operation. image_id={image_id}"
    )


def retry_after(world: Any, project_id: str) -> float | None:
    """Sim seconds until this project may upload again, or None if it may now."""
    accepted = world.upload_times.get(project_id)
    if not accepted:
        return None
    window = world.span(world.settings["upload_window_seconds"])
    now = world.now()
    keep = bisect.bisect_right(accepted, now - window)
    del accepted[:keep]
    if len(accepted) < world.settings["upload_limit"]:
        return None
    return accepted[0] + window - now


def duration(world: Any, size_gb: int) -> float:
    settings = world.settings
    return world.span(settings["upload_base_seconds"] + size_gb * settings["upload_seconds_per_gb"])


def begin(
    world: Any,
    volume: Volume,
    image_name: str,
    *,
    accepted_at: float | None = None,
    image_id: str | None = None,
    disk_format: str = "raw",
    container_format: str = "bare",
    visibility: str = "private",
    protected: bool = False,
    token_expires_at: float | None = None,
) -> Upload:
    """Accept an upload of `volume` (already checked by the caller) and schedule its steps."""
    now = world.now() if accepted_at is None else accepted_at
    source = volume.volume_image_metadata or {}
    properties = {k: v for k, v in source.items() if k not in SOURCE_IMAGE_KEYS}
    if "image_id" in source:
        properties["fcx.base_image_id"] = source["image_id"]
    image = world.add_image(
        id=image_id or str(uuid.uuid4()),
        name=image_name,
        owner=volume.project_id,
        status="queued",
        created_at=now,
        visibility=visibility,
        protected=protected,
        disk_format=disk_format,
        container_format=container_format,
        min_disk=volume.size,
        properties=properties,
        origin_zone=volume.availability_zone,
    )
    length = duration(world, volume.size)
    upload = Upload(
        id=str(uuid.uuid4()),
        project_id=volume.project_id,
        volume_id=volume.id,
        image_id=image.id,
        image_name=image_name,
        size=volume.size,
        zone=volume.availability_zone,
        previous_status=volume.status,
        accepted_at=now,
        ends_at=now + length,
        token_expires_at=token_expires_at,
    )
    world.uploads[upload.id] = upload
    bisect.insort(world.upload_times.setdefault(volume.project_id, []), now)
    volume.status = "uploading"
    volume.upload_id = upload.id
    volume.updated_at = now
    world.schedule(
        now + min(world.span(world.settings["saving_after_seconds"]), length), _to_saving, upload.id
    )
    world.schedule(upload.ends_at, _finish, upload.id)
    vanish = world.faults.take_vanish(volume.id)
    if vanish:
        schedule_vanish(world, upload, vanish.spec.get("after_seconds"))
    return upload


def arm_vanish(world: Any, volume_id: str) -> None:
    """A volume_vanish fault was added: if that volume is uploading now, use it at once."""
    volume = world.volumes.get(volume_id)
    upload = world.uploads.get(volume.upload_id) if volume and volume.upload_id else None
    if upload and upload.state == "running":
        fault = world.faults.take_vanish(volume_id)
        if fault:
            schedule_vanish(world, upload, fault.spec.get("after_seconds"))


def schedule_vanish(world: Any, upload: Upload, after_k5: float | None) -> None:
    # Default: half way through the copy. Never later than just before the copy ends,
    # so that the fault cannot silently miss.
    length = upload.ends_at - upload.accepted_at
    after = length / 2 if after_k5 is None else world.span(after_k5)
    due = min(upload.accepted_at + after, upload.ends_at - min(1e-3, length / 2))
    world.schedule(max(due, world.now()), _vanish, upload.id)


def vanish_volume(world: Any, volume: Volume, at: float) -> None:
    """The volume is gone, as if deleted behind the portal's back; its upload dies too."""
    upload = world.uploads.get(volume.upload_id) if volume.upload_id else None
    if upload and upload.state == "running":
        upload.state = "vanished"
        upload.finished_at = at
        _kill_image(world, upload.image_id, at)
    world.remove_volume(volume)


def _to_saving(world: Any, due: float, upload_id: str) -> None:
    upload = world.uploads[upload_id]
    image = world.images.get(upload.image_id)
    if upload.state == "running" and image and image.status == "queued":
        image.status = "saving"
        image.updated_at = due


def _finish(world: Any, due: float, upload_id: str) -> None:
    upload = world.uploads[upload_id]
    if upload.state != "running":
        return
    image = world.images.get(upload.image_id)
    if image is not None and _token_expired(world, upload, due):
        # Glance refuses the final update, and Cinder's clean-up, made with the same token, is
        # refused too: the image stays `saving` for ever; only the volume comes back.
        upload.state = "token_expired"
    elif image is None:  # deleted by a client mid-copy
        upload.state = "failed"
    elif failure := world.faults.take_upload_failure(upload.volume_id):
        upload.state = "failed"
        if failure.spec.get("leaves") == "nothing" and image.status in ("queued", "saving"):
            # Cinder's volume manager deletes the image its failed copy left unfinished.
            del world.images[image.id]
        else:
            _kill_image(world, upload.image_id, due)
    else:
        upload.state = "succeeded"
        image.status = "active"
        image.size = upload.size * GIB
        image.checksum = hashlib.md5(image.id.encode(), usedforsecurity=False).hexdigest()
        image.updated_at = due
        image.zone_sync = {image.origin_zone: {"status": "origin", "due_at": due}}
        for zone in world.zones:
            if zone != image.origin_zone:
                sync_due = due + world.span(world.settings["sync_seconds"])
                image.zone_sync[zone] = {"status": "pending", "due_at": sync_due}
                world.schedule(sync_due, _sync, image.id, zone)
    upload.finished_at = due
    volume = world.volumes.get(upload.volume_id)
    if volume and volume.upload_id == upload.id:
        volume.upload_id = None
        if volume.status == "uploading":
            volume.status = upload.previous_status
            volume.updated_at = due


def _token_expired(world: Any, upload: Upload, at: float) -> bool:
    expires = upload.token_expires_at
    return bool(world.settings["copy_uses_caller_token"]) and expires is not None and at >= expires


def _sync(world: Any, due: float, image_id: str, zone: str) -> None:
    image = world.images.get(image_id)
    entry = image.zone_sync.get(zone) if image else None
    if not entry or entry["status"] != "pending":
        return
    if image.status != "active":
        entry["status"] = "cancelled"
    elif fault := world.faults.take_sync_failure(zone, image_id):
        active_at = image.zone_sync[image.origin_zone]["due_at"]
        after = fault.spec.get("after_seconds")
        fails_at = due if after is None else max(due, active_at + world.span(after))
        prop = fault.spec.get("property", "sync_status_reason")
        if fails_at > due:
            # Looks registered now; K5 reports the failure later (a late zone failure).
            entry["status"] = "registered"
            world.schedule(fails_at, _fail_sync, image.id, zone, prop)
        else:
            _fail_sync(world, due, image.id, zone, prop)
            return
    else:
        entry["status"] = "registered"
    entry["done_at"] = due


def _fail_sync(world: Any, due: float, image_id: str, zone: str, prop: str) -> None:
    image = world.images.get(image_id)
    if image is None or image.status != "active":
        return
    image.zone_sync[zone].update(status="failed", done_at=due)
    image.properties.setdefault(prop, sync_failure_reason(world.image_servers[zone], image.id))
    image.updated_at = due


def _vanish(world: Any, due: float, upload_id: str) -> None:
    upload = world.uploads[upload_id]
    volume = world.volumes.get(upload.volume_id)
    if upload.state == "running" and volume is not None:
        vanish_volume(world, volume, due)


def _kill_image(world: Any, image_id: str, at: float) -> None:
    image = world.images.get(image_id)
    if image and image.status in ("queued", "saving"):
        image.status = "killed"
        image.updated_at = at
