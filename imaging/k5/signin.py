"""A person signs in with their own K5 account, as Horizon and Skyline do: which projects are
theirs, and which roles they hold in each.

    access = signin.user_access(auth_url, contract="demo", username="view-user",
                                password=typed, project_ids={"aaaa..."})
    access.user_name, access.roles_by_project  # {"aaaa...": ("reader",)}

The calls, in order:
1. `POST /v3/auth/tokens` with the password and `"scope": "unscoped"` (Keystone >= Kilo): an
   unscoped token even for a user with a default project, which a request without `scope` is
   scoped to — and a Keystone that refuses to rescope a scoped token
   (`allow_rescope_scoped_token = false`) would then refuse step 3. Sent once and never
   retried — K5 locks the user after 5 wrong passwords in 15 minutes, and this is a person's
   own account.
2. `GET /v3/auth/projects` (what Horizon asks), or `GET /v3/users/{id}/projects` where that
   is not offered: the projects the user holds a role in.
3. For each of those the caller asks about (the portal's registered projects), a token scoped
   to it, made from the unscoped token (`methods: ["token"]`, no password): its `roles` are
   the user's roles there. Keystone's role-assignment list would say the same, but its default
   policy lets only administrators read it; a scoped token works for every user.
4. Every token obtained is revoked before returning (best effort): nothing keeps or reuses a
   person's token, and the password is only ever in the first request's body.

Unlike identity.py (the projects' service credentials) there is no keystoneauth session here:
a person's sign-in makes a handful of identity calls and ends.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from . import deadline
from .client import parsing
from .errors import (
    K5CredentialError,
    K5Error,
    K5InvalidResponse,
    K5OutcomeUnknown,
    K5Unavailable,
    error_from_response,
    request_id_of,
)

logger = logging.getLogger(__name__)

# Answers to GET /v3/auth/projects that mean "ask the other way": an older Keystone without
# the call (404, 405, 501), or a policy that refuses it (403).
_TRY_USER_PROJECTS = frozenset({403, 404, 405, 501})


class K5UserLocked(K5CredentialError):
    """K5 says the user is locked (too many wrong passwords); even the right one is refused
    until the lock ends."""


@dataclass(frozen=True)
class UserAccess:
    """Who signed in, and their roles in the projects the caller asked about."""

    user_id: str
    user_name: str
    domain_id: str
    domain_name: str
    # Every project K5 listed for the user, by id, with its name.
    projects: dict[str, str] = field(default_factory=dict)
    # Role names per project asked about; a project the user has no role in is absent.
    roles_by_project: dict[str, tuple[str, ...]] = field(default_factory=dict)


def user_access(
    auth_url: str,
    *,
    contract: str,
    username: str,
    password: str,
    project_ids: Collection[str] | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    verify: bool | str = True,
) -> UserAccess:
    """Sign the user in and learn their roles in `project_ids` (None: every listed project).

    Raises K5UserLocked or K5CredentialError when K5 refuses the password, K5OutcomeUnknown
    when the password was sent but no answer came (K5 may have counted a failure),
    K5Unavailable when it could not be sent or K5 failed, K5InvalidResponse for an answer
    without a token.
    """
    with _IdentityCalls(auth_url, (connect_timeout, read_timeout), verify) as calls:
        token, user = calls.password_token(contract, username, password)
        projects = calls.projects(token, user["id"])
        wanted = projects.keys() if project_ids is None else set(project_ids) & projects.keys()
        roles_by_project = {}
        for project_id in sorted(wanted):
            roles = calls.roles_in(token, project_id)
            if roles:
                roles_by_project[project_id] = roles
        return UserAccess(
            user_id=user["id"],
            user_name=user["name"],
            domain_id=user["domain_id"],
            domain_name=user["domain_name"],
            projects=projects,
            roles_by_project=roles_by_project,
        )


class _IdentityCalls:
    """The identity calls of one sign-in, and the tokens to revoke when it ends."""

    def __init__(self, auth_url: str, timeout: tuple[float, float], verify: bool | str):
        self.base = auth_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        self.http.verify = verify
        self.tokens: list[str] = []

    def __enter__(self) -> _IdentityCalls:
        return self

    def __exit__(self, *exc_info) -> None:
        self._revoke_all()
        self.http.close()

    def password_token(
        self, contract: str, username: str, password: str
    ) -> tuple[str, dict[str, str]]:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": username,
                            "domain": {"name": contract},
                            "password": password,
                        }
                    },
                },
                "scope": "unscoped",
            }
        }
        response = self._send("POST", "/auth/tokens", json=body, changes_state=True)
        if response.status_code != 201:
            raise _refusal(response, self._path("/auth/tokens"))
        token = self._token_of(response)
        with parsing(self._path("/auth/tokens"), request_id_of(response)):
            user = response.json()["token"]["user"]
            return token, {
                "id": str(user["id"]),
                "name": str(user["name"]),
                "domain_id": str(user["domain"]["id"]),
                "domain_name": str(user["domain"]["name"]),
            }

    def projects(self, token: str, user_id: str) -> dict[str, str]:
        response = self._send("GET", "/auth/projects", token=token)
        if response.status_code in _TRY_USER_PROJECTS:
            response = self._send("GET", f"/users/{user_id}/projects", token=token)
        if response.status_code != 200:
            raise error_from_response(response, "GET", urlsplit(response.url).path)
        with parsing(urlsplit(response.url).path, request_id_of(response)):
            return {str(p["id"]): str(p["name"]) for p in response.json()["projects"]}

    def roles_in(self, token: str, project_id: str) -> tuple[str, ...]:
        body = {
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": token}},
                "scope": {"project": {"id": project_id}},
            }
        }
        response = self._send("POST", "/auth/tokens?nocatalog", json=body)
        if response.status_code in (401, 403):
            return ()  # listed a moment ago, no role now: not theirs
        if response.status_code != 201:
            raise error_from_response(response, "POST", self._path("/auth/tokens"))
        self._token_of(response)
        with parsing(self._path("/auth/tokens"), request_id_of(response)):
            return tuple(str(role["name"]) for role in response.json()["token"].get("roles", []))

    # --- HTTP ------------------------------------------------------------------------------

    def _path(self, path: str) -> str:
        return urlsplit(self.base + path).path

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
        subject: str | None = None,
        changes_state: bool = False,
    ) -> requests.Response:
        shown = self._path(path)
        headers = {"Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        if subject:
            headers["X-Subject-Token"] = subject
        timeout = deadline.cut(self.timeout, method=method, path=shown)
        try:
            return self.http.request(
                method, self.base + path, json=json, headers=headers, timeout=timeout
            )
        except requests.exceptions.ConnectTimeout:
            raise K5Unavailable(
                "cannot reach K5 identity (connect timeout; nothing was sent)",
                method=method,
                path=shown,
            ) from None
        except requests.exceptions.ConnectionError as exc:
            sent = not _refused_before_sending(exc)
            if changes_state and sent:
                raise K5OutcomeUnknown(
                    "the connection to K5 identity broke after the password was sent: "
                    "K5 may have counted a failed sign-in",
                    method=method,
                    path=shown,
                ) from None
            raise K5Unavailable(
                "cannot reach K5 identity" + ("" if sent else " (nothing was sent)"),
                method=method,
                path=shown,
            ) from None
        except requests.exceptions.ReadTimeout:
            if changes_state:
                raise K5OutcomeUnknown(
                    "K5 identity did not answer in time after the password was sent",
                    method=method,
                    path=shown,
                ) from None
            raise K5Unavailable(
                "K5 identity did not answer in time", method=method, path=shown
            ) from None
        except requests.exceptions.RequestException as exc:
            raise K5Error(
                f"calling K5 identity failed: {type(exc).__name__}", method=method, path=shown
            ) from None

    def _token_of(self, response: requests.Response) -> str:
        token = response.headers.get("X-Subject-Token", "").strip()
        if not token:
            raise K5InvalidResponse(
                "K5 identity answered without a token",
                method="POST",
                path=self._path("/auth/tokens"),
            )
        self.tokens.append(token)
        return token

    def _revoke_all(self) -> None:
        if not self.tokens or deadline.exhausted():
            return
        unscoped = self.tokens[0]
        for subject in reversed(self.tokens):
            try:
                self._send("DELETE", "/auth/tokens", token=unscoped, subject=subject)
            except K5Error as exc:
                # The token expires by itself; nothing keeps it. Not worth failing a sign-in.
                logger.info("could not revoke a sign-in token: %s", exc)
                return


def _refusal(response: requests.Response, path: str) -> K5Error:
    error = error_from_response(response, "POST", path)
    if response.status_code not in (400, 401, 403):
        return error
    kind = K5UserLocked if "locked" in error.message.lower() else K5CredentialError
    return kind(
        error.message,
        status=error.status,
        request_id=error.request_id,
        method="POST",
        path=path,
    )


def _refused_before_sending(exc: requests.exceptions.ConnectionError) -> bool:
    inner = exc.args[0] if exc.args else None
    return isinstance(inner, NewConnectionError) or (
        isinstance(inner, MaxRetryError) and isinstance(inner.reason, NewConnectionError)
    )
