"""Identity v3 (Keystone): password and token authentication, lockout, token validation.

K5 facts modelled here: tokens live 3 hours; 5 wrong passwords within 15 minutes lock the
user for 15 minutes, during which even the right password gets 401; the domain name is the
K5 contract number; the catalog is found by service *name* (`blockstoragev2`, ...).
As Keystone, a request without `scope` is scoped to the user's default project when one is
set (`"scope": "unscoped"` asks for an unscoped token whatever it is).
"""

from __future__ import annotations

import base64
import os
import uuid
from collections import deque
from typing import Any

from .clock import keystone_time
from .errors import IDENTITY, UNAUTHENTICATED, ApiError
from .model import Token, User
from .web import Call, Reply, Route

BAD_JSON = "Expecting to find valid JSON in request body."
_NAMESPACE = uuid.UUID("6f0c5d8e-3b44-4f7e-9a55-5f0d3c1e0a11")

# (K5's name, type, path under the simulator; {project_id} is filled in per token). K5's
# name is the endpoint-level `name` (what public K5 clients read) and, in the "openstack"
# catalog style, also the service's name.
CATALOG = (
    ("identityv3", "identity", "/identity/v3"),
    ("blockstoragev2", "volumev2", "/blockstorage/v2/{project_id}"),
    ("blockstoragev3", "volumev3", "/blockstorage/v3/{project_id}"),
    ("image", "image", "/image"),
    ("compute", "compute", "/compute/v2/{project_id}"),
)
# The "k5-endpoint-names" style: service-level names and types that are not K5's (as a
# cloud whose catalog was registered under its own conventions), so that only the
# endpoint-level names tell the services apart.
OTHER_SERVICE_NAMES = {
    "identityv3": ("keystone", "identity-service"),
    "blockstoragev2": ("cinderv2", "block-store-v2"),
    "blockstoragev3": ("cinderv3", "block-store-v3"),
    "image": ("glance", "image-service"),
    "compute": ("nova", "compute-service"),
}


def _stable_id(text: str) -> str:
    return uuid.uuid5(_NAMESPACE, text).hex


def _unauthorized(message: str = UNAUTHENTICATED) -> ApiError:
    return ApiError(401, message)


def _bad_input(message: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid input for field '{message}'. The server could not comply "
        "with the request since it is either malformed or otherwise "
        "incorrect. The client is assumed to be in error.",
    )


def _object(parent: dict, key: str, where: str) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise _bad_input(f"{where}{key}")
    return value


def issue_token(call: Call) -> Reply:
    world = call.world
    body = call.json(BAD_JSON)
    if not isinstance(body, dict):
        raise _bad_input("auth")
    auth = _object(body, "auth", "")
    identity = _object(auth, "identity", "auth.")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
        raise _bad_input("identity.methods")
    if "password" in methods:
        call.auth_method = "password"
        user = _password_user(call, world, _object(identity, "password", "identity."))
        expires_at = world.now() + world.span(world.settings["token_seconds"])
    elif "token" in methods:
        call.auth_method = "token"
        presented = _object(identity, "token", "identity.").get("id")
        original = world.valid_token(presented if isinstance(presented, str) else None)
        if original is None:
            raise _unauthorized()
        user, expires_at = world.users[original.user_id], original.expires_at
        call.user_id = user.id
        if not world.settings["rescope_scoped_tokens"] and (
            original.project_id or original.domain_id
        ):
            # Keystone with `[token] allow_rescope_scoped_token = false`.
            raise ApiError(
                403,
                "You are not authorized to perform the requested action: rescope a scoped token.",
            )
    else:
        raise _unauthorized("Attempted to authenticate with an unsupported method.")
    project_id, domain_id = _scope(world, user, auth.get("scope"))
    token = Token(
        id=uuid.uuid4().hex,
        user_id=user.id,
        methods=list(methods),
        issued_at=world.now(),
        expires_at=expires_at,
        audit_id=base64.urlsafe_b64encode(os.urandom(16)).decode()[:22],
        project_id=project_id,
        domain_id=domain_id,
    )
    world.tokens[token.id] = token
    call.project_id = project_id
    catalog = call.arg("nocatalog") is None
    return Reply(201, token_body(call, token, catalog=catalog), {"X-Subject-Token": token.id})


def _find_domain(world: Any, ref: Any, where: str) -> str:
    if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
        raise _bad_input(f"{where}.domain")
    for domain in world.domains.values():
        if domain.id == ref.get("id") or ("id" not in ref and domain.name == ref.get("name")):
            return domain.id
    raise _unauthorized(f"Could not find domain: {ref.get('id') or ref.get('name')}.")


def _password_user(call: Call, world: Any, password: dict) -> User:
    ref = _object(password, "user", "password.")
    secret = ref.get("password")
    if not isinstance(secret, str):
        raise _bad_input("password.user.password")
    if isinstance(ref.get("id"), str):
        user = world.users.get(ref["id"])
    elif isinstance(ref.get("name"), str):
        domain_id = _find_domain(world, ref.get("domain"), "password.user")
        user = world.users_by_name.get((domain_id, ref["name"]))
    else:
        raise _bad_input("password.user")
    if user is None:
        raise _unauthorized()
    call.user_id = user.id  # the request log tells whose password was tried
    now = world.now()
    if world.locked_until.get(user.id, 0) > now:
        raise _unauthorized(f"The account is locked for user: {user.id}.")
    world.locked_until.pop(user.id, None)
    if secret != user.password:
        _record_failure(world, user, now)
        raise _unauthorized()
    world.failed_logins.pop(user.id, None)
    return user


def _record_failure(world: Any, user: User, now: float) -> None:
    settings = world.settings
    failures = world.failed_logins.setdefault(user.id, deque())
    window = world.span(settings["lockout_window_seconds"])
    while failures and failures[0] <= now - window:
        failures.popleft()
    failures.append(now)
    if len(failures) >= settings["lockout_failures"]:
        world.locked_until[user.id] = now + world.span(settings["lockout_seconds"])
        failures.clear()


def _scope(world: Any, user: User, scope: Any) -> tuple[str | None, str | None]:
    if scope is None:
        return _default_scope(world, user), None
    if scope == "unscoped":
        return None, None
    if not isinstance(scope, dict):
        raise _bad_input("auth.scope")
    if "project" in scope:
        ref = _object(scope, "project", "scope.")
        if isinstance(ref.get("id"), str):
            project = world.projects.get(ref["id"])
        elif isinstance(ref.get("name"), str):
            domain_id = _find_domain(world, ref.get("domain"), "scope.project")
            project = next(
                (
                    p
                    for p in world.projects.values()
                    if p.name == ref["name"] and p.domain_id == domain_id
                ),
                None,
            )
        else:
            raise _bad_input("scope.project")
        if project is None:
            raise _unauthorized(f"Could not find project: {ref.get('id') or ref.get('name')}.")
        if project.id not in user.project_ids:
            raise _unauthorized(f"User {user.id} has no access to project {project.id}")
        return project.id, None
    if "domain" in scope:
        domain_id = _find_domain(world, scope["domain"], "scope")
        if domain_id != user.domain_id:
            raise _unauthorized(f"User {user.id} has no access to domain {domain_id}")
        return None, domain_id
    raise _bad_input("auth.scope")


def _default_scope(world: Any, user: User) -> str | None:
    """Keystone's `_check_and_set_default_scoping`: a request without `scope` is scoped to the
    user's default project when it exists and they hold a role there; otherwise unscoped."""
    project_id = user.default_project_id
    if project_id in world.projects and project_id in user.project_ids:
        return project_id
    return None


def token_body(call: Call, token: Token, *, catalog: bool = True) -> dict:
    world = call.world
    user = world.users[token.user_id]
    user_domain = world.domains[user.domain_id]
    body: dict[str, Any] = {
        "methods": token.methods,
        "user": {
            "id": user.id,
            "name": user.name,
            "password_expires_at": None,
            "domain": {"id": user_domain.id, "name": user_domain.name},
        },
        "audit_ids": [token.audit_id],
        "expires_at": keystone_time(token.expires_at),
        "issued_at": keystone_time(token.issued_at),
    }
    if token.project_id:
        roles = _roles(user.project_roles.get(token.project_id, []))
        project = world.projects[token.project_id]
        domain = world.domains[project.domain_id]
        body.update(
            project={
                "id": project.id,
                "name": project.name,
                "domain": {"id": domain.id, "name": domain.name},
            },
            is_domain=False,
            roles=roles,
        )
        if catalog:
            body["catalog"] = _catalog(call, project.id, CATALOG)
    elif token.domain_id:
        domain = world.domains[token.domain_id]
        body.update(domain={"id": domain.id, "name": domain.name}, roles=_roles(user.roles))
        if catalog:
            body["catalog"] = _catalog(call, None, CATALOG[:1])
    return {"token": body}


def _roles(names: list[str]) -> list[dict]:
    return [{"id": role_id(name), "name": name} for name in names]


def role_id(name: str) -> str:
    """Keystone gives every role an id; the simulator's are derived from the name."""
    return _stable_id(f"role:{name}")


def _catalog(call: Call, project_id: str | None, services: tuple) -> list[dict]:
    region = call.world.region
    entries = []
    for name, kind, path in services:
        url = call.url(path.format(project_id=project_id))
        service_name, service_type = name, kind
        if call.world.catalog_style == "k5-endpoint-names":
            service_name, service_type = OTHER_SERVICE_NAMES[name]
        entries.append(
            {
                "id": _stable_id(f"service:{name}"),
                "type": service_type,
                "name": service_name,
                "endpoints": [
                    {
                        "id": _stable_id(f"endpoint:{name}:{region}"),
                        "name": name,
                        "interface": "public",
                        "region": region,
                        "region_id": region,
                        "url": url,
                    }
                ],
            }
        )
    return entries


def _subject(call: Call) -> Token:
    subject = call.headers.get("X-Subject-Token", "").strip()
    token = call.world.valid_token(subject)
    if token is None:
        raise ApiError(404, f"Could not find token: {subject}.")
    return token


def validate_token(call: Call) -> Reply:
    token = _subject(call)
    catalog = call.arg("nocatalog") is None
    return Reply(200, token_body(call, token, catalog=catalog), {"X-Subject-Token": token.id})


def revoke_token(call: Call) -> Reply:
    token = _subject(call)
    del call.world.tokens[token.id]
    return Reply(204)


def token_projects(call: Call) -> Reply:
    """GET /v3/auth/projects: the projects the token's user may scope to."""
    return _project_list(call, call.token.user_id, "/identity/v3/auth/projects")


def user_projects(call: Call) -> Reply:
    """GET /v3/users/{user_id}/projects: Keystone's policy lets a user list their own
    projects (any token of theirs, unscoped included); anyone else's is refused."""
    user_id = call.params["user_id"]
    if user_id != call.token.user_id:
        raise ApiError(
            403,
            "You are not authorized to perform the requested action: identity:list_user_projects.",
        )
    if user_id not in call.world.users:
        raise ApiError(404, f"Could not find user: {user_id}.")
    return _project_list(call, user_id, f"/identity/v3/users/{user_id}/projects")


def _project_list(call: Call, user_id: str, self_path: str) -> Reply:
    world = call.world
    user = world.users[user_id]
    projects = [world.projects[pid] for pid in user.project_ids]
    return Reply(
        200,
        {
            "projects": [
                {
                    "id": p.id,
                    "name": p.name,
                    "domain_id": p.domain_id,
                    "enabled": True,
                    "is_domain": False,
                    "parent_id": p.domain_id,
                    "description": "",
                    "links": {"self": call.url(f"/identity/v3/projects/{p.id}")},
                }
                for p in projects
            ],
            "links": {"self": call.url(self_path), "previous": None, "next": None},
        },
    )


ROUTES = [
    Route("POST", "/identity/v3/auth/tokens", issue_token, IDENTITY, auth=False),
    Route("GET", "/identity/v3/auth/tokens", validate_token, IDENTITY),
    Route("DELETE", "/identity/v3/auth/tokens", revoke_token, IDENTITY),
    Route("GET", "/identity/v3/auth/projects", token_projects, IDENTITY),
    Route("GET", "/identity/v3/users/{user_id}/projects", user_projects, IDENTITY),
]
