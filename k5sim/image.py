"""Image v2 (Glance): list with filters, sorting and pagination; show; delete.

A project sees its own images and public/community ones. Images are flat JSON with custom
properties at the top level (K5's `fcx.*`, the copied `os_type`, and `sync_status_reason`
when registration to another zone failed). Per-zone progress is deliberately absent: K5 does
not expose it (the control API does).

Two Glance releases (the world's `glance_release`), as upstream's code reads:
- both: the list never shows `killed` images, nor deleted ones (`deleted`, `pending_delete`),
  since `glance/api/v2/images.py` lists with `deleted=False` and
  `glance/db/sqlalchemy/api.py` (`_make_conditions_from_filters`) then keeps every status but
  `killed` — in Liberty (11.0) as on master. GET by id still shows a `killed` image; a deleted
  one is 404. A full page carries a `next` link even when nothing follows (`len(images) ==
  limit`), so the last page may be empty.
- legacy (Liberty and older, before Glance 12.0 "Support new v2 API image filters"):
  `created_at`/`updated_at` are plain columns compared by equality, so `gt:...` matches
  nothing and the list is empty, without an error.
- mitaka (Glance 12.0 "Added support new v2 API image filters", to today; `modern` is the
  same): `created_at`/`updated_at` take `op:ISO` (`gt`, `gte`, `lt`, `lte`, `eq`, `neq`), and
  `name`, `id`, `status`, `container_format`, `disk_format` take `eq:value` or
  `in:a,"b,c"` — a value with a ':' is split there (`glance/common/utils.py`
  `split_filter_op`), so `name=golden:v1` is 400 "unknown operator 'golden'".
"""

from __future__ import annotations

from urllib.parse import urlencode

from .clock import parse_time, zulu_time
from .errors import IMAGE, ApiError
from .model import Image
from .web import Call, Reply, Route, int_arg

SORT_KEYS = (
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
    "min_disk",
    "min_ram",
    "visibility",
    "owner",
)
RESERVED_PARAMS = {
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "member_status",
    "size_min",
    "size_max",
}
PLAIN_FILTERS = ("name", "status", "owner", "visibility", "disk_format", "container_format", "id")
# Read as `op:value` from Glance 12.0 (`_make_conditions_from_filters`); `owner` and
# `visibility` stay plain.
OPERATOR_FILTERS = frozenset({"name", "id", "status", "container_format", "disk_format"})
TIME_OPS = {
    "gt": float.__gt__,
    "gte": float.__ge__,
    "lt": float.__lt__,
    "lte": float.__le__,
    "eq": float.__eq__,
    "neq": float.__ne__,
}


def image_json(image: Image) -> dict:
    body = {
        **image.properties,
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "protected": image.protected,
        "os_hidden": False,
        "size": image.size,
        "virtual_size": None,
        "checksum": image.checksum,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "created_at": zulu_time(image.created_at),
        "updated_at": zulu_time(image.updated_at),
        "tags": list(image.tags),
        "self": f"/v2/images/{image.id}",
        "file": f"/v2/images/{image.id}/file",
        "schema": "/v2/schemas/image",
    }
    return body


# Statuses whose image row Glance has marked deleted: neither listed nor shown.
DELETED_STATUSES = frozenset({"deleted", "pending_delete"})
# Never listed (only GET by id shows them): deleted rows, and `killed` ones.
UNLISTED_STATUSES = DELETED_STATUSES | {"killed"}


def _visible(image: Image, project_id: str) -> bool:
    if image.status in DELETED_STATUSES:
        return False
    return image.owner == project_id or image.visibility in ("public", "community")


def _visible_image(call: Call) -> Image:
    image = call.world.images.get(call.params["image_id"])
    if image is None or not _visible(image, call.token.project_id):
        raise ApiError(404, f"No image found with ID {call.params['image_id']}")
    return image


def show_image(call: Call) -> Reply:
    return Reply(200, image_json(_visible_image(call)))


def delete_image(call: Call) -> Reply:
    image = _visible_image(call)
    if image.owner != call.token.project_id:
        raise ApiError(403, "You are not permitted to delete this image.")
    if image.protected:
        raise ApiError(409, f"Image {image.id} is protected and cannot be deleted.")
    del call.world.images[image.id]
    return Reply(204)


def _sort_spec(call: Call) -> list[tuple[str, str]]:
    spec: list[tuple[str, str]] = []
    if "sort" in call.query:
        for item in call.arg("sort").split(","):
            key, _, direction = item.strip().partition(":")
            spec.append((key, direction or "desc"))
    else:
        keys = call.query.get("sort_key", [])
        dirs = call.query.get("sort_dir", [])
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise ApiError(400, "Number of sort dirs does not match the number of sort keys")
        spec = [
            (key, dirs[i] if len(dirs) > 1 else (dirs or ["desc"])[0])
            for i, key in enumerate(keys or ["created_at"])
        ]
    for key, direction in spec:
        if key not in SORT_KEYS:
            raise ApiError(
                400,
                f"Invalid sort key: {key}. It must be one of the following: "
                f"{', '.join(SORT_KEYS)}.",
            )
        if direction not in ("asc", "desc"):
            raise ApiError(400, f"Invalid sort direction: {direction}")
    if "id" not in (key for key, _ in spec):
        spec.append(("id", spec[-1][1] if spec else "desc"))  # stable pages, as Glance
    return spec


def _time_filter(call: Call, field: str):
    text = call.arg(field)
    if text is None:
        return None
    if call.world.glance_release == "legacy":
        # A plain column compared with the given string: "gt:2026-..." equals no timestamp.
        return lambda image: zulu_time(getattr(image, field)) == text
    op, sep, value = text.partition(":")
    if not sep or op not in TIME_OPS:
        op, value = "eq", text
    try:
        # Shown times are whole seconds: compare at that precision.
        bound = float(int(parse_time(value)))
    except ValueError:
        raise ApiError(400, f"Invalid value for {field}: {text}") from None
    compare = TIME_OPS[op]
    return lambda image: compare(float(int(getattr(image, field))), bound)


def _wanted_values(call: Call, key: str, text: str) -> frozenset[str]:
    """The values a plain filter accepts; from Glance 12.0 some read `eq:x` and `in:a,b`."""
    if call.world.glance_release == "legacy" or key not in OPERATOR_FILTERS:
        return frozenset({text})
    op, sep, value = text.partition(":")
    if not sep or _is_time(text):  # Glance takes a whole ISO time as a plain value
        return frozenset({text})
    if op == "eq":
        return frozenset({value})
    if op == "in":
        return frozenset(_in_values(value))
    raise ApiError(400, f"Unable to filter by unknown operator '{op}'.")


def _is_time(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


def _in_values(text: str) -> list[str]:
    """`a,b` → a, b; a double-quoted item may hold commas (`"a,b",c`), as the API WG's
    filtering guideline that Glance follows. Malformed quoting is 400, as in Glance."""
    values: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == '"':
            end = i + 1
            while end < len(text) and (text[end] != '"' or text[end - 1] == "\\"):
                end += 1
            if end == len(text):
                raise ApiError(400, f"Invalid filter value {text}. The quote is not closed.")
            if end + 1 < len(text) and text[end + 1] != ",":
                raise ApiError(
                    400,
                    f"Invalid filter value {text}. There is no comma after closing quotation mark.",
                )
            values.append(text[i + 1 : end])
            i = end + 2
            continue
        end = text.find(",", i)
        end = len(text) if end < 0 else end
        item = text[i:end]
        if '"' in item.replace('\\"', ""):
            raise ApiError(
                400,
                f"Invalid filter value {text}. There is no comma before opening quotation mark.",
            )
        values.append(item)
        i = end + 1
    return values


def _filters(call: Call) -> list:
    checks = []
    for key in PLAIN_FILTERS:
        value = call.arg(key)
        if value is not None and not (key == "visibility" and value == "all"):
            wanted = _wanted_values(call, key, value)
            checks.append(lambda image, k=key, w=wanted: getattr(image, k) in w)
    for field in ("created_at", "updated_at"):
        check = _time_filter(call, field)
        if check:
            checks.append(check)
    for tag in call.query.get("tag", []):
        checks.append(lambda image, t=tag: t in image.tags)
    if call.arg("protected") is not None:
        wanted = call.arg("protected").lower() == "true"
        checks.append(lambda image: image.protected == wanted)
    size_min = int_arg(call, "size_min", None)
    size_max = int_arg(call, "size_max", None)
    if size_min is not None:
        checks.append(lambda image: image.size is not None and image.size >= size_min)
    if size_max is not None:
        checks.append(lambda image: image.size is not None and image.size <= size_max)
    known = {*RESERVED_PARAMS, *PLAIN_FILTERS, "created_at", "updated_at", "tag", "protected"}
    for key, values in call.query.items():
        if key not in known:  # any other parameter filters on a custom property
            checks.append(lambda image, k=key, v=values[-1]: str(image.properties.get(k)) == v)
    return checks


def list_images(call: Call) -> Reply:
    world = call.world
    settings = world.settings
    limit = int_arg(call, "limit", settings["image_default_limit"])
    limit = min(limit, settings["image_max_limit"])
    project_id = call.token.project_id
    ordered = [
        image
        for image in world.images.values()
        if _visible(image, project_id) and image.status not in UNLISTED_STATUSES
    ]
    for key, direction in reversed(_sort_spec(call)):
        ordered.sort(
            key=lambda i, k=key: (getattr(i, k) is None, getattr(i, k)), reverse=direction == "desc"
        )
    start = 0
    marker = call.arg("marker")
    if marker:
        start = next((n + 1 for n, image in enumerate(ordered) if image.id == marker), None)
        if start is None:
            raise ApiError(400, f"Invalid marker. Image {marker} could not be found.")
    checks = _filters(call)
    page: list[Image] = []
    for image in ordered[start:]:
        if len(page) == limit:
            break
        if all(check(image) for check in checks) and not world.faults.take_list_omit(image.id):
            page.append(image)
    body = {
        "images": [image_json(image) for image in page],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if page and len(page) == limit:  # Glance's rule: a full page links on, even to nothing
        params = [(k, v) for k, values in call.query.items() if k != "marker" for v in values]
        params.append(("marker", page[-1].id))
        body["next"] = "/v2/images?" + urlencode(params)
    return Reply(200, body)


ROUTES = [
    Route("GET", "/image/v2/images", list_images, IMAGE),
    Route("GET", "/image/v2/images/{image_id}", show_image, IMAGE),
    Route("DELETE", "/image/v2/images/{image_id}", delete_image, IMAGE),
]
