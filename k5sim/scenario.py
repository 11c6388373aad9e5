"""Scenarios: the initial cloud (region, zones, users, projects, volumes, ...) and its settings.

A scenario is JSON. The built-in demo is `demo.json` beside this file and is read with the
same code as a user's `--scenario FILE`, so it doubles as the format's example. `parse()`
checks everything (types, unknown keys, cross references) and returns a normalized copy with
every default filled in and every reference resolved to an id; any problem raises
`ScenarioError` naming the exact place, e.g. `volumes[3].size: must be an integer >= 1`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

DEMO_PATH = Path(__file__).with_name("demo.json")

DEFAULT_SETTINGS: dict[str, float] = {
    "token_seconds": 10800,  # Keystone token life (K5: 3 hours)
    "lockout_failures": 5,  # wrong passwords ...
    "lockout_window_seconds": 900,  # ... within this window ...
    "lockout_seconds": 900,  # ... lock the user this long
    "upload_limit": 4,  # accepted uploads per project ...
    "upload_window_seconds": 3600,  # ... per rolling window
    "upload_base_seconds": 60,  # upload duration = base + size_gb * per_gb
    "upload_seconds_per_gb": 12,
    "saving_after_seconds": 5,  # image queued -> saving after this
    "sync_seconds": 120,  # registration to each other zone after `active`
    "max_limit": 1000,  # Cinder's osapi_max_limit
    "image_default_limit": 25,  # Glance's limit_param_default
    "image_max_limit": 1000,  # Glance's api_limit_max
    "rescope_scoped_tokens": 1,  # Keystone's allow_rescope_scoped_token (0: refused, 403)
    # Cinder hands the caller's token to Glance for the copy: a copy that ends after that
    # token expired cannot mark its image active (README: "Cinder copies with the caller's
    # token"). false: the copy always completes, as before.
    "copy_uses_caller_token": True,
    # The Windows round trip (README: "Snapshots, restore and server power").
    "snapshot_seconds": 30,  # a snapshot `creating` -> `available`
    "snapshot_delete_seconds": 5,  # a snapshot `deleting` -> gone
    "restore_seconds": 60,  # fcx-restore: the volume `restoring` -> back at rest
    "server_stop_seconds": 20,  # os-stop: `powering-off` -> SHUTOFF
    "server_start_seconds": 30,  # os-start: `powering-on` -> ACTIVE
    "sysprep_shutdown_seconds": 60,  # /_sim/servers/{id}/sysprep: generalized -> SHUTOFF
}
# Durations that may be 0 (happens at once); every other number must be >= 1.
ZERO_SETTINGS = {
    "saving_after_seconds",
    "upload_base_seconds",
    "upload_seconds_per_gb",
    "sync_seconds",
    "rescope_scoped_tokens",
    "snapshot_seconds",
    "snapshot_delete_seconds",
    "restore_seconds",
    "server_stop_seconds",
    "server_start_seconds",
    "sysprep_shutdown_seconds",
}
BOOLEAN_SETTINGS = {"copy_uses_caller_token"}
INTEGER_SETTINGS = {
    "lockout_failures",
    "upload_limit",
    "max_limit",
    "image_default_limit",
    "image_max_limit",
    "rescope_scoped_tokens",
}

VOLUME_STATUSES = {
    "available",
    "in-use",
    "uploading",
    "error",
    "creating",
    "deleting",
    "error_deleting",
    "maintenance",
    "reserved",
    "attaching",
    "detaching",
    "downloading",
    "extending",
    "backing-up",
    "restoring-backup",
    "error_restoring",
    "retyping",
    "awaiting-transfer",
    "restoring",  # K5's fcx-restore of a snapshot in progress
}
SERVER_STATUSES = {"ACTIVE", "SHUTOFF", "ERROR", "BUILD", "PAUSED", "SUSPENDED", "REBOOT"}
IMAGE_STATUSES = {
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "pending_delete",
    "deactivated",
}
VISIBILITIES = {"private", "public", "shared", "community"}
# Which Glance the image API behaves like (README: "Glance releases"). The scenario may name
# one; otherwise the process's `--glance-release` applies.
# `mitaka` and `modern` behave the same (Glance 12.0 and later); `modern` is kept for
# scenarios and tests written before `mitaka` was named.
GLANCE_RELEASES = ("legacy", "mitaka", "modern")
# How the identity catalog names the services (README: "Catalog styles"): "openstack" gives
# each service K5's name and the usual type; "k5-endpoint-names" gives services other names
# and types, so that only the endpoint-level `name` is K5's.
CATALOG_STYLES = ("openstack", "k5-endpoint-names")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the offending place."""


def load_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    try:
        return parse(data)
    except ScenarioError as error:
        raise ScenarioError(f"{path}: {error}") from None


def demo() -> dict[str, Any]:
    return load_file(DEMO_PATH)


def _fail(where: str, message: str) -> None:
    raise ScenarioError(f"{where}: {message}")


def _object(value: Any, where: str, required: set[str], optional: set[str]) -> dict:
    if not isinstance(value, dict):
        _fail(where, f"must be an object, got {json.dumps(value)[:60]}")
    missing = sorted(required - value.keys())
    if missing:
        _fail(where, f"missing required key {missing[0]!r}")
    unknown = sorted(value.keys() - required - optional)
    if unknown:
        _fail(
            where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(required | optional))})"
        )
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        _fail(where, "must be a list")
    return value


def _text(
    obj: dict, key: str, where: str, default: Any = None, *, choices=None, nullable: bool = False
) -> Any:
    value = obj.get(key, default)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or (not value and choices is None and not nullable):
        _fail(f"{where}.{key}", f"must be a non-empty string, got {json.dumps(value)}")
    if choices is not None and value not in choices:
        _fail(f"{where}.{key}", f"must be one of {', '.join(sorted(choices))}; got {value!r}")
    return value


def _integer(obj: dict, key: str, where: str, default: Any = None, minimum: int = 0) -> Any:
    value = obj.get(key, default)
    if value is None and default is None and key not in obj:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(f"{where}.{key}", f"must be an integer >= {minimum}, got {json.dumps(value)}")
    return value


def _boolean(obj: dict, key: str, where: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        _fail(f"{where}.{key}", f"must be true or false, got {json.dumps(value)}")
    return value


def _strings(obj: dict, key: str, where: str) -> dict[str, str]:
    value = obj.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        _fail(f"{where}.{key}", "must be an object of string values")
    return dict(value)


def _unique_id(obj: dict, where: str, seen: set[str], hex_id: bool) -> str:
    value = obj.get("id") or (uuid.uuid4().hex if hex_id else str(uuid.uuid4()))
    if not isinstance(value, str):
        _fail(f"{where}.id", "must be a string")
    if value in seen:
        _fail(f"{where}.id", f"duplicate id {value!r}")
    seen.add(value)
    return value


def _role_names(value: Any, where: str) -> list[str]:
    roles = _list(value, where)
    if not roles or not all(isinstance(role, str) and role for role in roles):
        _fail(where, "must be a non-empty list of role names")
    return list(roles)


def parse(data: Any) -> dict[str, Any]:
    """Validate a scenario document and return it normalized (see module docstring)."""
    top = _object(
        data,
        "scenario",
        {"region", "zones", "domains", "projects", "users"},
        {
            "settings",
            "os_catalog",
            "volume_types",
            "servers",
            "images",
            "volumes",
            "description",
            "glance_release",
            "catalog",
        },
    )
    out: dict[str, Any] = {"region": _text(top, "region", "scenario")}
    out["glance_release"] = _text(
        top, "glance_release", "scenario", None, choices=GLANCE_RELEASES, nullable=True
    )
    out["catalog"] = _text(top, "catalog", "scenario", "openstack", choices=CATALOG_STYLES)
    out["settings"] = _settings(top.get("settings") or {})
    out["zones"] = _zones(top["zones"])
    zone_names = [zone["name"] for zone in out["zones"]]
    ids: set[str] = set()

    domains, domain_ref = [], {}
    for i, item in enumerate(_list(top["domains"], "domains")):
        where = f"domains[{i}]"
        _object(item, where, {"name"}, {"id"})
        domain = {"id": _unique_id(item, where, ids, True), "name": _text(item, "name", where)}
        domain_ref[domain["id"]] = domain_ref[domain["name"]] = domain["id"]
        domains.append(domain)
    out["domains"] = domains

    projects, project_ref = [], {}
    for i, item in enumerate(_list(top["projects"], "projects")):
        where = f"projects[{i}]"
        _object(item, where, {"name", "domain"}, {"id"})
        project = {
            "id": _unique_id(item, where, ids, True),
            "name": _text(item, "name", where),
            "domain_id": _ref(item, "domain", where, domain_ref, "domain"),
        }
        if project["name"] in project_ref:
            _fail(f"{where}.name", f"duplicate project name {project['name']!r}")
        project_ref[project["id"]] = project_ref[project["name"]] = project["id"]
        projects.append(project)
    out["projects"] = projects

    users = []
    for i, item in enumerate(_list(top["users"], "users")):
        where = f"users[{i}]"
        _object(
            item,
            where,
            {"name", "domain", "password"},
            {"id", "projects", "roles", "default_project"},
        )
        roles = _role_names(item.get("roles", ["_member_"]), f"{where}.roles")
        project_roles: dict[str, list[str]] = {}
        for j, entry in enumerate(_list(item.get("projects", []), f"{where}.projects")):
            place = f"{where}.projects[{j}]"
            if isinstance(entry, dict):
                # {"project": "<name or id>", "roles": ["reader"]}: roles in this project only
                _object(entry, place, {"project"}, {"roles"})
                ref, own = entry, _role_names(entry.get("roles", roles), f"{place}.roles")
            else:
                ref, own = {"project": entry}, roles
            project_id = _ref(ref, "project", place, project_ref, "project")
            if project_id in project_roles:
                _fail(place, "the project is listed twice")
            project_roles[project_id] = list(own)
        users.append(
            {
                "id": _unique_id(item, where, ids, True),
                "name": _text(item, "name", where),
                "domain_id": _ref(item, "domain", where, domain_ref, "domain"),
                "password": _text(item, "password", where),
                "project_roles": project_roles,
                "roles": roles,
                "default_project_id": _ref(item, "default_project", where, project_ref, "project")
                if item.get("default_project") is not None
                else None,
            }
        )
    out["users"] = users

    out["os_catalog"] = {}
    catalog = top.get("os_catalog") or {}
    if not isinstance(catalog, dict):
        _fail("os_catalog", "must be an object of name -> volume_image_metadata")
    for key in catalog:
        out["os_catalog"][key] = _strings(catalog, key, "os_catalog")

    types = []
    for i, item in enumerate(_list(top.get("volume_types", []), "volume_types")):
        where = f"volume_types[{i}]"
        _object(item, where, {"name"}, {"id"})
        types.append(
            {"id": _unique_id(item, where, ids, False), "name": _text(item, "name", where)}
        )
    out["volume_types"] = types

    context = {
        "zones": zone_names,
        "projects": project_ref,
        "ids": ids,
        "types": {t["name"] for t in types},
        "os_catalog": out["os_catalog"],
    }
    out["servers"] = [
        _server(item, f"servers[{i}]", context)
        for i, item in enumerate(_list(top.get("servers", []), "servers"))
    ]
    context["servers"] = {server["id"]: server for server in out["servers"]}
    out["images"] = [
        _image(item, f"images[{i}]", context)
        for i, item in enumerate(_list(top.get("images", []), "images"))
    ]
    out["volumes"] = [
        _volume(item, f"volumes[{i}]", context)
        for i, item in enumerate(_list(top.get("volumes", []), "volumes"))
    ]
    return out


def _ref(item: dict, key: str, where: str, known: dict[str, str], what: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or value not in known:
        _fail(f"{where}.{key}", f"unknown {what} {json.dumps(value)}")
    return known[value]


def _settings(value: Any) -> dict[str, float]:
    _object(value, "settings", set(), set(DEFAULT_SETTINGS))
    settings = dict(DEFAULT_SETTINGS)
    for key, given in value.items():
        if key in BOOLEAN_SETTINGS:
            if not isinstance(given, bool):
                _fail(f"settings.{key}", f"must be true or false, got {json.dumps(given)}")
            settings[key] = given
            continue
        integer = key in INTEGER_SETTINGS
        ok = not isinstance(given, bool) and (
            isinstance(given, int) if integer else isinstance(given, int | float)
        )
        positive = key not in ZERO_SETTINGS
        if not ok or given < (1 if positive else 0):
            kind = "an integer" if integer else "a number"
            bound = ">= 1" if positive else ">= 0"
            _fail(f"settings.{key}", f"must be {kind} {bound}, got {json.dumps(given)}")
        settings[key] = given
    return settings


def _zones(value: Any) -> list[dict[str, str]]:
    zones = []
    for i, item in enumerate(_list(value, "zones")):
        where = f"zones[{i}]"
        _object(item, where, {"name", "image_server"}, set())
        zone = {
            "name": _text(item, "name", where),
            "image_server": _text(item, "image_server", where),
        }
        if any(z["name"] == zone["name"] for z in zones):
            _fail(f"{where}.name", f"duplicate zone {zone['name']!r}")
        zones.append(zone)
    if not zones:
        _fail("zones", "must list at least one availability zone")
    return zones


def _server(item: Any, where: str, context: dict) -> dict[str, Any]:
    _object(item, where, {"name", "project"}, {"id", "status", "availability_zone"})
    return {
        "id": _unique_id(item, where, context["ids"], False),
        "name": _text(item, "name", where),
        "project_id": _ref(item, "project", where, context["projects"], "project"),
        "status": _text(item, "status", where, "ACTIVE", choices=SERVER_STATUSES),
        "availability_zone": _text(
            item, "availability_zone", where, context["zones"][0], choices=set(context["zones"])
        ),
    }


def _image(item: Any, where: str, context: dict) -> dict[str, Any]:
    _object(
        item,
        where,
        {"name", "owner"},
        {
            "id",
            "status",
            "visibility",
            "protected",
            "size",
            "checksum",
            "min_disk",
            "min_ram",
            "disk_format",
            "container_format",
            "properties",
            "tags",
        },
    )
    owner = item["owner"]
    if not isinstance(owner, str) or not owner:
        _fail(f"{where}.owner", "must be a project name or a project id")
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        _fail(f"{where}.properties", "must be an object")
    tags = _list(item.get("tags", []), f"{where}.tags")
    return {
        "id": _unique_id(item, where, context["ids"], False),
        "name": _text(item, "name", where),
        "owner": context["projects"].get(owner, owner),
        "status": _text(item, "status", where, "active", choices=IMAGE_STATUSES),
        "visibility": _text(item, "visibility", where, "private", choices=VISIBILITIES),
        "protected": _boolean(item, "protected", where, False),
        "size": _integer(item, "size", where),
        "checksum": _text(item, "checksum", where, nullable=True),
        "min_disk": _integer(item, "min_disk", where, 0),
        "min_ram": _integer(item, "min_ram", where, 0),
        "disk_format": _text(item, "disk_format", where, "raw"),
        "container_format": _text(item, "container_format", where, "bare"),
        "properties": dict(properties),
        "tags": [str(tag) for tag in tags],
    }


def _volume(item: Any, where: str, context: dict) -> dict[str, Any]:
    _object(
        item,
        where,
        {"name", "project", "size"},
        {
            "id",
            "status",
            "availability_zone",
            "volume_type",
            "os",
            "volume_image_metadata",
            "bootable",
            "server",
            "device",
            "description",
            "metadata",
            "upload",
            "content",
        },
    )
    if not isinstance(item["name"], str):
        _fail(f"{where}.name", "must be a string")
    volume = {
        "id": _unique_id(item, where, context["ids"], False),
        "name": item["name"],
        "project_id": _ref(item, "project", where, context["projects"], "project"),
        "size": _integer(item, "size", where, minimum=1),
        "status": _text(item, "status", where, "available", choices=VOLUME_STATUSES),
        "availability_zone": _text(
            item, "availability_zone", where, context["zones"][0], choices=set(context["zones"])
        ),
        "volume_type": _text(item, "volume_type", where, choices=context["types"], nullable=True),
        "description": _text(item, "description", where, nullable=True),
        "metadata": _strings(item, "metadata", where),
        "device": _text(item, "device", where, "/dev/vda"),
        "content": _text(item, "content", where, "original"),
    }
    image_meta = None
    if item.get("os") is not None:
        os_key = _text(item, "os", where, choices=set(context["os_catalog"]))
        image_meta = dict(context["os_catalog"][os_key])
    if item.get("volume_image_metadata") is not None:
        image_meta = {**(image_meta or {}), **_strings(item, "volume_image_metadata", where)}
    volume["volume_image_metadata"] = image_meta
    volume["bootable"] = _boolean(item, "bootable", where, image_meta is not None)

    upload = None
    if volume["status"] == "uploading":
        if "upload" not in item:
            _fail(where, "an 'uploading' volume needs an 'upload' object")
        upload_where = f"{where}.upload"
        raw = _object(
            item["upload"],
            upload_where,
            {"image_name"},
            {"image_id", "started_seconds_ago", "previous_status"},
        )
        upload = {
            "image_id": _unique_id(
                {"id": raw.get("image_id")}, f"{upload_where}.image", context["ids"], False
            ),
            "image_name": _text(raw, "image_name", upload_where),
            "started_seconds_ago": _integer(raw, "started_seconds_ago", upload_where, 0),
            "previous_status": _text(
                raw, "previous_status", upload_where, "available", choices={"available", "in-use"}
            ),
        }
    elif "upload" in item:
        _fail(f"{where}.upload", "only an 'uploading' volume can have an upload")
    volume["upload"] = upload

    attached = volume["status"] == "in-use" or (upload and upload["previous_status"] == "in-use")
    server_id = item.get("server")
    if attached and server_id is None:
        _fail(where, "an attached volume needs 'server' (the id of a server)")
    if server_id is not None:
        if not attached:
            _fail(f"{where}.server", "only an in-use volume can be attached to a server")
        server = context["servers"].get(server_id)
        if server is None:
            _fail(f"{where}.server", f"unknown server {json.dumps(server_id)}")
        if server["project_id"] != volume["project_id"]:
            _fail(f"{where}.server", "the server belongs to another project")
    volume["server_id"] = server_id
    return volume
