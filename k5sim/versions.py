"""Version discovery documents, as each OpenStack service answers them.

keystoneauth1 (and so openstacksdk) reads these to find the versioned endpoint of each
service; the self links therefore point at this simulator's own prefixes.
"""

from __future__ import annotations

from .errors import COMPUTE, IDENTITY, IMAGE, VOLUME
from .web import Call, Reply, Route

CINDER_MAX_MICROVERSION = "3.59"
GLANCE_VERSIONS = ("2.9", "2.8", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0")


def identity_version(call: Call) -> dict:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": call.url("/identity/v3/")}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


def identity_root(call: Call) -> Reply:
    return Reply(300, {"versions": {"values": [identity_version(call)]}})


def identity_v3(call: Call) -> Reply:
    return Reply(200, {"version": identity_version(call)})


def _cinder_version(call: Call, major: int) -> dict:
    current = major == 3
    return {
        "id": f"v{major}.0",
        "status": "CURRENT" if current else "DEPRECATED",
        "version": CINDER_MAX_MICROVERSION if current else "",
        "min_version": "3.0" if current else "",
        "updated": "2016-02-08T12:20:21Z" if current else "2014-06-28T12:20:21Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": call.url(f"/blockstorage/v{major}/")},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": f"application/vnd.openstack.volume+json;version={major}",
            }
        ],
    }


def blockstorage_root(call: Call) -> Reply:
    return Reply(300, {"versions": [_cinder_version(call, 2), _cinder_version(call, 3)]})


def blockstorage_v2(call: Call) -> Reply:
    return Reply(200, {"versions": [_cinder_version(call, 2)]})


def blockstorage_v3(call: Call) -> Reply:
    return Reply(200, {"versions": [_cinder_version(call, 3)]})


def image_root(call: Call) -> Reply:
    versions = [
        {
            "id": f"v{number}",
            "status": "CURRENT" if i == 0 else "SUPPORTED",
            "links": [{"rel": "self", "href": call.url("/image/v2/")}],
        }
        for i, number in enumerate(GLANCE_VERSIONS)
    ]
    return Reply(300, {"versions": versions})


def _nova_version(call: Call) -> dict:
    # K5's compute endpoint is `/v2/{project_id}` without microversions.
    return {
        "id": "v2.0",
        "status": "CURRENT",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": call.url("/compute/v2/")}],
    }


def compute_root(call: Call) -> Reply:
    return Reply(200, {"versions": [_nova_version(call)]})


def compute_v2(call: Call) -> Reply:
    return Reply(
        200,
        {
            "version": {
                **_nova_version(call),
                "media-types": [
                    {
                        "base": "application/json",
                        "type": "application/vnd.openstack.compute+json;version=2",
                    }
                ],
            }
        },
    )


ROUTES = [
    Route("GET", "/identity/", identity_root, IDENTITY, auth=False),
    Route("GET", "/identity/v3", identity_v3, IDENTITY, auth=False),
    Route("GET", "/blockstorage/", blockstorage_root, VOLUME, auth=False),
    Route("GET", "/blockstorage/v2/", blockstorage_v2, VOLUME, auth=False),
    Route("GET", "/blockstorage/v3/", blockstorage_v3, VOLUME, auth=False),
    Route("GET", "/image/", image_root, IMAGE, auth=False),
    Route("GET", "/image/versions", image_root, IMAGE, auth=False),
    Route("GET", "/image/v2/", image_root, IMAGE, auth=False),
    Route("GET", "/compute/", compute_root, COMPUTE, auth=False),
    Route("GET", "/compute/v2/", compute_v2, COMPUTE, auth=False),
]
