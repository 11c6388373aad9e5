"""The simulated cloud: every record, the clock, the faults and the scheduled transitions.

One `World` per process, guarded by one re-entrant lock that the server holds while a
request is handled. Time-driven changes (an upload finishing, a zone registration) are not
run by a background thread: they sit in a heap of (due, seq, action) and `catch_up()` applies
every one that is due, in order, at the start of each request. So the state a client sees is
always exactly "as of now", and `advance()` is just "move the clock, then catch up".
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from . import uploads
from .clock import Clock
from .faults import FaultBook
from .model import Attachment, Domain, Image, Project, Server, Snapshot, Token, User, Volume


class World:
    def __init__(
        self, scenario: dict[str, Any], speed: float, glance_release: str = "legacy"
    ) -> None:
        self.lock = threading.RLock()
        self.reset(scenario, speed, glance_release)

    def reset(self, scenario: dict[str, Any], speed: float, glance_release: str = "legacy") -> None:
        """Back to the scenario's initial state. `glance_release` applies unless the scenario
        names one itself."""
        with self.lock:
            self.scenario = scenario
            self.glance_release = scenario.get("glance_release") or glance_release
            self.catalog_style = scenario.get("catalog") or "openstack"
            self.settings = scenario["settings"]
            self.region = scenario["region"]
            self.zones = [zone["name"] for zone in scenario["zones"]]
            self.image_servers = {zone["name"]: zone["image_server"] for zone in scenario["zones"]}
            self.os_catalog = scenario["os_catalog"]
            self.volume_types = {t["name"]: t for t in scenario["volume_types"]}
            self.clock = Clock(speed)
            self.started_at = self.clock.now()
            self.faults = FaultBook(self.clock)
            self._events: list[tuple[float, int, Callable, tuple]] = []
            self._seq = itertools.count()
            self.domains: dict[str, Domain] = {}
            self.projects: dict[str, Project] = {}
            self.users: dict[str, User] = {}
            self.users_by_name: dict[tuple[str, str], User] = {}
            self.tokens: dict[str, Token] = {}
            self.failed_logins: dict[str, deque[float]] = {}
            self.locked_until: dict[str, float] = {}
            self.volumes: dict[str, Volume] = {}
            self.project_volumes: dict[str, dict[str, Volume]] = {}
            self.servers: dict[str, Server] = {}
            self.project_servers: dict[str, dict[str, Server]] = {}
            self.images: dict[str, Image] = {}
            self.snapshots: dict[str, Snapshot] = {}
            self.project_snapshots: dict[str, dict[str, Snapshot]] = {}
            self.uploads: dict[str, Any] = {}
            self.upload_times: dict[str, list[float]] = {}  # accepted uploads, sorted
            self._load(scenario)
            self.catch_up()

    # -- time and scheduled transitions -------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def span(self, k5_seconds: float) -> float:
        return self.clock.span(k5_seconds)

    def schedule(self, due: float, action: Callable, *args: Any) -> None:
        """Run `action(world, due, *args)` once sim time reaches `due`."""
        heapq.heappush(self._events, (due, next(self._seq), action, args))

    def catch_up(self) -> None:
        now = self.clock.now()
        while self._events and self._events[0][0] <= now:
            due, _, action, args = heapq.heappop(self._events)
            action(self, due, *args)

    def advance(self, k5_seconds: float) -> None:
        self.clock.advance(k5_seconds)
        self.catch_up()

    def pending_events(self) -> int:
        return len(self._events)

    # -- records ------------------------------------------------------------------------

    def valid_token(self, token_id: str | None) -> Token | None:
        token = self.tokens.get(token_id or "")
        if token is None:
            return None
        if token.expires_at <= self.now():
            del self.tokens[token.id]
            return None
        return token

    def add_volume(
        self,
        *,
        project_id: str,
        name: str,
        size: int,
        availability_zone: str,
        status: str = "available",
        volume_id: str | None = None,
        user_id: str | None = None,
        created_at: float | None = None,
        **fields: Any,
    ) -> Volume:
        now = self.now()
        volume = Volume(
            id=volume_id or str(uuid.uuid4()),
            project_id=project_id,
            user_id=user_id or self._first_member(project_id),
            name=name,
            status=status,
            size=size,
            availability_zone=availability_zone,
            created_at=now if created_at is None else created_at,
            seq=next(self._seq),
            **fields,
        )
        volume.updated_at = volume.created_at
        self.volumes[volume.id] = volume
        self.project_volumes.setdefault(project_id, {})[volume.id] = volume
        return volume

    def remove_volume(self, volume: Volume) -> None:
        self.volumes.pop(volume.id, None)
        self.project_volumes.get(volume.project_id, {}).pop(volume.id, None)
        for attachment in volume.attachments:
            server = self.servers.get(attachment.server_id)
            if server and volume.id in server.volume_ids:
                server.volume_ids.remove(volume.id)

    def add_snapshot(self, volume: Volume, **fields: Any) -> Snapshot:
        now = self.now()
        snapshot = Snapshot(
            id=str(uuid.uuid4()),
            project_id=volume.project_id,
            user_id=volume.user_id,
            volume_id=volume.id,
            size=volume.size,
            created_at=now,
            updated_at=now,
            seq=next(self._seq),
            content=volume.content,
            **fields,
        )
        self.snapshots[snapshot.id] = snapshot
        self.project_snapshots.setdefault(snapshot.project_id, {})[snapshot.id] = snapshot
        return snapshot

    def remove_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshots.pop(snapshot.id, None)
        self.project_snapshots.get(snapshot.project_id, {}).pop(snapshot.id, None)

    def system_volume(self, server: Server) -> Volume | None:
        """The volume the server boots from: the one at /dev/vda, else the first attached."""
        volumes = [self.volumes[v] for v in server.volume_ids if v in self.volumes]
        for volume in volumes:
            if any(
                a.server_id == server.id and a.device in ("/dev/vda", "/dev/sda")
                for a in volume.attachments
            ):
                return volume
        return volumes[0] if volumes else None

    def add_image(self, **fields: Any) -> Image:
        now = self.now()
        fields.setdefault("created_at", now)
        fields.setdefault("updated_at", fields["created_at"])
        image = Image(seq=next(self._seq), **fields)
        self.images[image.id] = image
        return image

    def _first_member(self, project_id: str) -> str:
        for user in self.users.values():
            if project_id in user.project_ids:
                return user.id
        return "0" * 32

    def attach(self, volume: Volume, server: Server, device: str, at: float) -> None:
        volume.attachments.append(
            Attachment(
                id=str(uuid.uuid4()),
                server_id=server.id,
                device=device,
                host_name=None,
                attached_at=at,
            )
        )
        server.volume_ids.append(volume.id)

    # -- loading a scenario -------------------------------------------------------------

    def _load(self, scenario: dict[str, Any]) -> None:
        scenario = copy.deepcopy(scenario)  # records own their lists and dicts; resets repeat
        now = self.now()
        for item in scenario["domains"]:
            self.domains[item["id"]] = Domain(**item)
        for item in scenario["projects"]:
            self.projects[item["id"]] = Project(**item)
        for item in scenario["users"]:
            user = User(**item)
            self.users[user.id] = user
            self.users_by_name[(user.domain_id, user.name)] = user
        count = len(scenario["servers"])
        for i, item in enumerate(scenario["servers"]):
            created = now - (count - i) * 86400  # a day apart, oldest first
            server = Server(
                user_id=self._first_member(item["project_id"]),
                created_at=created,
                updated_at=created,
                **item,
            )
            self.servers[server.id] = server
            self.project_servers.setdefault(server.project_id, {})[server.id] = server
        count = len(scenario["images"])
        for i, item in enumerate(scenario["images"]):
            created = now - (count - i) * 86400
            image = self.add_image(created_at=created, **item)
            if image.status == "active":
                # Images present from the start are already registered everywhere.
                image.zone_sync = {
                    zone: {"status": "registered", "due_at": created} for zone in self.zones
                }
        count = len(scenario["volumes"])
        for i, item in enumerate(scenario["volumes"]):
            fields = {
                k: v for k, v in item.items() if k not in ("id", "server_id", "device", "upload")
            }
            volume = self.add_volume(
                volume_id=item["id"], created_at=now - (count - i) * 3600, **fields
            )
            if item["server_id"]:
                self.attach(
                    volume, self.servers[item["server_id"]], item["device"], volume.created_at
                )
            upload = item["upload"]
            if upload:
                accepted = now - self.span(upload["started_seconds_ago"])
                volume.status = upload["previous_status"]
                uploads.begin(
                    self,
                    volume,
                    upload["image_name"],
                    accepted_at=accepted,
                    image_id=upload["image_id"],
                )
