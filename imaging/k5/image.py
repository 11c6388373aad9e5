"""Image service (Glance v2, catalog name `image`). K5 publishes the endpoint without a version
(`https://image.<region>.cloud.global.fujitsu.com`), so paths here start with v2/."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from .client import IMAGE, K5Client, parsing
from .types import Image


def image_get(client: K5Client, image_id: str) -> Image:
    """One image; K5NotFound once it is gone."""
    path = f"v2/images/{quote(image_id, safe='')}"
    reply = client.get(IMAGE, path)
    with parsing(path, reply.request_id):
        return Image.from_api(reply.body, reply.request_id)


def image_list(
    client: K5Client,
    *,
    name: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    created_after: datetime | None = None,
) -> list[Image]:
    """Every image visible to the project (all pages) matching the filters.

    K5 allows several images with one name, so a name filter can return more than one.
    `created_after` must be timezone-aware.
    """
    path = "v2/images"
    params = {"name": name, "status": status, "owner": owner}
    if created_after is not None:
        if created_after.tzinfo is None:
            raise ValueError("created_after must be timezone-aware")
        stamp = created_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        params["created_at"] = f"gt:{stamp}"
    pages = client.get_pages(
        IMAGE, path, collection="images", next_href=lambda body: body.get("next"), params=params
    )
    images = []
    for item, request_id in pages:
        with parsing(path, request_id):
            images.append(Image.from_api(item, request_id))
    return images


def image_delete(client: K5Client, image_id: str) -> str | None:
    """Delete an image; returns K5's request id. K5NotFound if already gone, K5Conflict (or
    K5AccessDenied) if protected."""
    reply = client.delete(IMAGE, f"v2/images/{quote(image_id, safe='')}")
    return reply.request_id
