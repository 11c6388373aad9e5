"""Image service (Glance v2, catalog name `image`). K5 publishes the endpoint without a version
(`https://image.<region>.cloud.global.fujitsu.com`), so paths here start with v2/.

Coded to the oldest image API K5 can run (Kilo/Liberty): lists are filtered by equality only
(`status`, `owner`, `visibility`) and paged with `limit`, `marker`, `sort_key`, `sort_dir`.
A person's text never goes into a filter: from Mitaka (Glance 12.0) on, `name=` is read as
`<operator>:<value>` (`golden:v1` is a 400 "unknown operator", `in:a,b` means "a or b"), so
images are found by name from the owner's listing and compared here (`images_named`).
Time comparisons (`created_at=gt:...`) came with Glance 12.0 (Mitaka); an older Glance
compares the column to the whole string and answers an empty list, without an error.
No Glance lists `killed` (or deleted) images: only `image_get` shows them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

from .client import IMAGE, K5Client, parsing
from .types import Image

_PATH = "v2/images"


def image_get(client: K5Client, image_id: str) -> Image:
    """One image, `killed` ones included; K5NotFound once it is gone."""
    path = f"{_PATH}/{quote(image_id, safe='')}"
    reply = client.get(IMAGE, path)
    with parsing(path, reply.request_id):
        return Image.from_api(reply.body, reply.request_id)


def image_list(
    client: K5Client,
    *,
    status: str | None = None,
    owner: str | None = None,
    visibility: str | None = None,
) -> list[Image]:
    """Every listed image visible to the project (all pages) that equals the filters given.

    No `name` filter: see `images_named`.
    """
    return list(_images(client, status=status, owner=owner, visibility=visibility))


def images_named(client: K5Client, name: str, *, owner: str) -> list[Image]:
    """The owner's listed images whose name is exactly `name` (K5 allows several).

    The owner's whole listing is paged and the names compared here: any name (':', ',',
    spaces, any Unicode) matches only itself, on every Glance release.
    """
    return [found for found in _images(client, owner=owner) if found.name == name]


def image_list_since(client: K5Client, *, owner: str, created_since: datetime) -> list[Image]:
    """The owner's listed images created at or after `created_since`, newest first.

    Pages are asked for newest first and followed only while they are still recent: the
    first older image ends the listing, so a project with years of images costs one call.
    `created_since` must be timezone-aware.
    """
    if created_since.tzinfo is None:
        raise ValueError("created_since must be timezone-aware")
    recent = []
    for found in _images(client, owner=owner, sort_key="created_at", sort_dir="desc"):
        if found.created_at is not None and found.created_at < created_since:
            break  # stops the page generator: no further page is asked for
        recent.append(found)
    return recent


def image_delete(client: K5Client, image_id: str) -> str | None:
    """Delete an image; returns K5's request id. K5NotFound if already gone, K5Conflict (or
    K5AccessDenied) if protected."""
    reply = client.delete(IMAGE, f"{_PATH}/{quote(image_id, safe='')}")
    return reply.request_id


def _images(client: K5Client, **params: str | None) -> Iterator[Image]:
    pages = client.get_pages(
        IMAGE, _PATH, collection="images", next_href=lambda body: body.get("next"), params=params
    )
    for item, request_id in pages:
        with parsing(_PATH, request_id):
            yield Image.from_api(item, request_id)
