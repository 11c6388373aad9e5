"""Block Storage v2 and v3 (Cinder): volume list/detail/show and `os-volume_upload_image`.

v2 and v3 answer the same (K5's newer regions document v3 paths with the same body); v3
also honours the `OpenStack-API-Version: volume 3.x` header (up to 3.59), and from 3.1 the
upload accepts `visibility` and `protected` as Cinder does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, TypeVar
from urllib.parse import urlencode

from . import uploads
from .clock import cinder_time
from .errors import VOLUME, ApiError
from .model import Volume
from .scenario import VISIBILITIES
from .versions import CINDER_MAX_MICROVERSION
from .web import Call, Reply, Route, int_arg


class _HasId(Protocol):
    id: str


T = TypeVar("T", bound=_HasId)

SORT_KEYS = {
    "id",
    "name",
    "status",
    "size",
    "availability_zone",
    "created_at",
    "updated_at",
    "bootable",
}
FILTERS = ("status", "name", "availability_zone", "bootable")
VOLUME_TYPE_CREATED = "2016-10-01T00:00:00.000000"


def _version(call: Call) -> int:
    return int(call.path.split("/")[2][1:])


def _microversion(call: Call) -> tuple[int, int] | None:
    """The negotiated v3 microversion (None on v2); 400/406 as Cinder for bad headers."""
    if _version(call) == 2:
        return None
    newest = tuple(int(n) for n in CINDER_MAX_MICROVERSION.split("."))
    header = call.headers.get("OpenStack-API-Version", "")
    for part in header.split(","):
        words = part.split()
        if len(words) == 2 and words[0].lower() in ("volume", "block-storage"):
            if words[1] == "latest":
                return newest
            try:
                major, minor = (int(n) for n in words[1].split("."))
            except ValueError:
                raise ApiError(400, f"Invalid API version: {words[1]}") from None
            if not (3, 0) <= (major, minor) <= newest:
                raise ApiError(
                    406,
                    f"Version {words[1]} is not supported by the API. "
                    f"Minimum is 3.0 and maximum is {CINDER_MAX_MICROVERSION}.",
                )
            return major, minor
    return 3, 0


def reply(call: Call, status: int, body: dict | None) -> Reply:
    version = _microversion(call)
    headers = {}
    if version:
        headers = {
            "OpenStack-API-Version": f"volume {version[0]}.{version[1]}",
            "Vary": "OpenStack-API-Version",
        }
    return Reply(status, body, headers)


def _links(call: Call, volume: Volume) -> list[dict]:
    version, pid = _version(call), volume.project_id
    return [
        {"href": call.url(f"/blockstorage/v{version}/{pid}/volumes/{volume.id}"), "rel": "self"},
        {"href": call.url(f"/blockstorage/{pid}/volumes/{volume.id}"), "rel": "bookmark"},
    ]


def volume_json(call: Call, volume: Volume) -> dict:
    body = {
        "id": volume.id,
        "name": volume.name,
        "status": volume.status,
        "size": volume.size,
        "availability_zone": volume.availability_zone,
        "bootable": "true" if volume.bootable else "false",
        "attachments": [
            {
                "server_id": a.server_id,
                "attachment_id": a.id,
                "attached_at": cinder_time(a.attached_at),
                "host_name": a.host_name,
                "volume_id": volume.id,
                "device": a.device,
                "id": volume.id,
            }
            for a in volume.attachments
        ],
        "volume_type": volume.volume_type,
        "metadata": dict(volume.metadata),
        "created_at": cinder_time(volume.created_at),
        "updated_at": cinder_time(volume.updated_at),
        "description": volume.description,
        "encrypted": False,
        "multiattach": False,
        "replication_status": None,
        "snapshot_id": None,
        "source_volid": None,
        "consistencygroup_id": None,
        "user_id": volume.user_id,
        "os-vol-tenant-attr:tenant_id": volume.project_id,
        "links": _links(call, volume),
    }
    if volume.volume_image_metadata is not None:
        body["volume_image_metadata"] = dict(volume.volume_image_metadata)
    return body


def _sort_spec(call: Call) -> list[tuple[str, str]] | None:
    spec = []
    if call.arg("sort"):
        for item in call.arg("sort").split(","):
            key, _, direction = item.strip().partition(":")
            spec.append((key, direction or "desc"))
    elif call.arg("sort_key") or call.arg("sort_dir"):
        spec.append((call.arg("sort_key", "created_at"), call.arg("sort_dir", "desc")))
    for key, direction in spec:
        if key not in SORT_KEYS:
            raise ApiError(400, f"Invalid input received: Invalid sort key {key}")
        if direction not in ("asc", "desc"):
            raise ApiError(400, f"Invalid input received: Invalid sort dir {direction}")
    return spec or None


def _ordered(volumes: dict[str, Volume], spec: list[tuple[str, str]] | None) -> list[Volume]:
    if spec is None:  # Cinder's default: created_at desc, id desc
        return list(reversed(volumes.values()))
    items = list(reversed(volumes.values()))
    for key, direction in reversed(spec):
        items.sort(
            key=lambda v, k=key: (getattr(v, k) is None, getattr(v, k)), reverse=direction == "desc"
        )
    return items


def _matches(volume: Volume, wanted: dict[str, str]) -> bool:
    for key, value in wanted.items():
        if key == "bootable":
            if volume.bootable != (value.lower() in ("true", "1", "yes")):
                return False
        elif getattr(volume, key) != value:
            return False
    return True


def cinder_page(call: Call, ordered: list[T], keep: Callable[[T], bool]) -> tuple[list[T], int]:
    """A page of `ordered` as Cinder cuts it: after `marker` (400 when unknown), at most
    `limit` (capped at the world's max_limit) of the items `keep` accepts. Returns the page
    and the page size."""
    max_limit = call.world.settings["max_limit"]
    limit = int_arg(call, "limit", None)
    page_size = max_limit if limit is None else min(limit, max_limit)
    start = 0
    marker = call.arg("marker")
    if marker:
        found = next((i + 1 for i, item in enumerate(ordered) if item.id == marker), None)
        if found is None:
            raise ApiError(400, f"Invalid input received: marker [{marker}] not found")
        start = found
    page: list[T] = []
    for item in ordered[start:]:
        if len(page) == page_size:
            break
        if keep(item):
            page.append(item)
    return page, page_size


def next_links(call: Call, page: list, page_size: int) -> list[dict] | None:
    """Cinder's rule (`_get_collection_links`): a full page links on, even when nothing
    follows, so the last page can be empty."""
    if not page or len(page) < page_size:
        return None
    query = [(k, v) for k, values in call.query.items() if k != "marker" for v in values]
    query.append(("marker", page[-1].id))
    return [{"rel": "next", "href": call.url(call.path.rstrip("/") + "?" + urlencode(query))}]


def _list(call: Call, detail: bool) -> Reply:
    world = call.world
    wanted = {key: call.arg(key) for key in FILTERS if call.arg(key) is not None}
    ordered = _ordered(world.project_volumes.get(call.params["project_id"], {}), _sort_spec(call))
    hidden = world.faults.hidden_volumes()
    page, page_size = cinder_page(
        call, ordered, lambda volume: volume.id not in hidden and _matches(volume, wanted)
    )
    render = (
        volume_json
        if detail
        else (lambda c, v: {"id": v.id, "name": v.name, "links": _links(c, v)})
    )
    body = {"volumes": [render(call, volume) for volume in page]}
    if links := next_links(call, page, page_size):
        body["volumes_links"] = links
    return reply(call, 200, body)


def list_volumes(call: Call) -> Reply:
    return _list(call, detail=False)


def list_volumes_detail(call: Call) -> Reply:
    return _list(call, detail=True)


def _volume(call: Call) -> Volume:
    volume_id = call.params["volume_id"]
    volume = call.world.project_volumes.get(call.params["project_id"], {}).get(volume_id)
    if volume is None:
        raise ApiError(404, f"Volume {volume_id} could not be found.")
    return volume


def show_volume(call: Call) -> Reply:
    return reply(call, 200, {"volume": volume_json(call, _volume(call))})


def volume_action(call: Call) -> Reply:
    body = call.json()
    if not isinstance(body, dict) or len(body) != 1:
        raise ApiError(400, "Malformed request body")
    ((action, params),) = body.items()
    if action != "os-volume_upload_image":
        raise ApiError(400, f"There is no such action: {action}")
    return _upload(call, params)


def _force(value: object) -> bool:
    # The vendor page: "True"/"False" (the example sends the string); clients also send JSON
    # booleans. Null counts as omitted.
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(
        400,
        f"Invalid value for 'force': 'Unrecognized value '{value}', "
        "acceptable values are: 'True', 'False''",
    )


def _format(params: dict, key: str, only: str) -> str:
    value = params.get(key)
    if value is None:
        return only
    if value != only:
        label = key.replace("_", "-")
        raise ApiError(400, f"Invalid {label} '{value}' is specified. Allowed {label}s are {only}.")
    return value


def _upload(call: Call, params: object) -> Reply:
    world = call.world
    project_id = call.params["project_id"]
    wait = uploads.retry_after(world, project_id)
    if wait is not None:
        # Like OpenStack's rate-limit middleware: checked before the request is looked at.
        seconds = max(1, math.ceil(wait))
        settings = world.settings
        raise ApiError(
            413,
            "This request was rate-limited.",
            headers={"Retry-After": str(seconds)},
            extra={
                "retryAfter": str(seconds),
                "details": f"Only {settings['upload_limit']} os-volume_upload_image request(s) "
                f"can be made per project every {settings['upload_window_seconds']} "
                "seconds.",
            },
        )
    if not isinstance(params, dict):
        raise ApiError(400, "Malformed request body")
    image_name = params.get("image_name")
    if image_name is None or image_name == "":
        raise ApiError(400, "No image_name was specified in request.")
    if not isinstance(image_name, str) or len(image_name) > 255:
        raise ApiError(
            400,
            "Invalid input for field/attribute image_name. "
            "Value: must be a string of at most 255 characters.",
        )
    force = _force(params.get("force"))
    disk_format = _format(params, "disk_format", "raw")
    container_format = _format(params, "container_format", "bare")
    microversion = _microversion(call)
    extended = microversion is not None and microversion >= (3, 1)
    visibility, protected = "private", False
    if extended:
        visibility = params.get("visibility") or "private"
        if visibility not in VISIBILITIES:
            raise ApiError(400, f"Invalid visibility: {visibility}")
        protected = params.get("protected", False)
        if isinstance(protected, str) and protected.lower() in ("true", "false"):
            protected = protected.lower() == "true"
        if not isinstance(protected, bool):
            raise ApiError(400, f"Invalid value for 'protected': '{protected}'")
    volume = _volume(call)
    if volume.status not in ("available", "in-use"):
        raise ApiError(400, "Invalid volume: Volume status must be available/in-use.")
    if volume.status == "in-use" and not force:
        raise ApiError(400, "Invalid volume: Volume status is in-use.")
    upload = uploads.begin(
        world,
        volume,
        image_name,
        disk_format=disk_format,
        container_format=container_format,
        visibility=visibility,
        protected=protected,
        token_expires_at=call.token.expires_at,
    )
    volume_type = world.volume_types.get(volume.volume_type)
    answer = {
        "status": "uploading",
        "image_id": upload.image_id,
        "image_name": image_name,
        "volume_type": None
        if volume_type is None
        else {
            "name": volume_type["name"],
            "qos_specs_id": None,
            "deleted": False,
            "created_at": VOLUME_TYPE_CREATED,
            "updated_at": None,
            "deleted_at": None,
            "id": volume_type["id"],
        },
        "container_format": container_format,
        "size": volume.size,
        "disk_format": disk_format,
        "id": volume.id,
        "display_description": volume.description,
        "updated_at": cinder_time(volume.updated_at),
    }
    if extended:
        answer.update(visibility=visibility, protected=protected)
    return reply(call, 202, {"os-volume_upload_image": answer})


ROUTES = [
    route
    for v in (2, 3)
    for route in (
        Route("GET", f"/blockstorage/v{v}/{{project_id}}/volumes", list_volumes, VOLUME),
        Route(
            "GET", f"/blockstorage/v{v}/{{project_id}}/volumes/detail", list_volumes_detail, VOLUME
        ),
        Route(
            "GET", f"/blockstorage/v{v}/{{project_id}}/volumes/{{volume_id}}", show_volume, VOLUME
        ),
        Route(
            "POST",
            f"/blockstorage/v{v}/{{project_id}}/volumes/{{volume_id}}/action",
            volume_action,
            VOLUME,
        ),
    )
]
