"""Server power: Nova's os-stop/os-start, and a guest that shuts itself down (Sysprep).

Timeline (K5 seconds, scenario settings):
  os-stop   status stays ACTIVE with task_state `powering-off` for `server_stop_seconds`,
            then SHUTOFF (vm_state `stopped`)
  os-start  status stays SHUTOFF with task_state `powering-on` for `server_start_seconds`,
            then ACTIVE
  sysprep   (control) the system volume is `generalized` at once; the guest powers itself off
            `sysprep_shutdown_seconds` later (Nova just sees ACTIVE -> SHUTOFF, no task)
Every start is recorded with the content of the server's system volume at that moment, so a
test can tell whether a server was ever booted on a generalized disk.
"""

from __future__ import annotations

from typing import Any

from .clock import zulu_time
from .model import Server

POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
GENERALIZED = "generalized"


def stop(world: Any, server: Server) -> None:
    """Accept an os-stop (the caller checked the state)."""
    now = world.now()
    server.task_state = POWERING_OFF
    server.updated_at = now
    world.schedule(now + world.span(world.settings["server_stop_seconds"]), _stopped, server.id)


def start(world: Any, server: Server, by: str = "os-start") -> None:
    """Accept an os-start (the caller checked the state)."""
    now = world.now()
    server.task_state = POWERING_ON
    server.updated_at = now
    record_start(world, server, now, by)
    world.schedule(now + world.span(world.settings["server_start_seconds"]), _started, server.id)


def record_start(world: Any, server: Server, at: float, by: str) -> None:
    volume = world.system_volume(server)
    server.starts.append(
        {
            "at": zulu_time(at),
            "by": by,
            "volume_id": volume.id if volume else None,
            "content": volume.content if volume else None,
            "volume_status": volume.status if volume else None,
        }
    )


def record_stop(server: Server, at: float, by: str) -> None:
    server.stops.append({"at": zulu_time(at), "by": by})


def shut_down_from_inside(world: Any, server: Server, after: float, *, sysprep: bool) -> None:
    """The guest OS shuts itself down (Sysprep's /shutdown, or a person's `shutdown`)."""
    now = world.now()
    if sysprep:
        volume = world.system_volume(server)
        if volume is not None:
            volume.content = GENERALIZED
    world.schedule(
        now + world.span(after), _guest_off, server.id, "sysprep" if sysprep else "power-off"
    )


def _stopped(world: Any, due: float, server_id: str) -> None:
    server = world.servers.get(server_id)
    if server is None or server.task_state != POWERING_OFF:
        return
    server.task_state = None
    server.updated_at = due
    if server.status != "SHUTOFF":
        server.status = "SHUTOFF"
        record_stop(server, due, "os-stop")


def _started(world: Any, due: float, server_id: str) -> None:
    server = world.servers.get(server_id)
    if server is None or server.task_state != POWERING_ON:
        return
    server.task_state = None
    server.status = "ACTIVE"
    server.updated_at = due


def _guest_off(world: Any, due: float, server_id: str, by: str) -> None:
    server = world.servers.get(server_id)
    if server is None or server.status != "ACTIVE" or server.task_state == POWERING_ON:
        return
    server.status = "SHUTOFF"
    server.task_state = None  # an os-stop still powering off finds it off already
    server.updated_at = due
    record_stop(server, due, by)
