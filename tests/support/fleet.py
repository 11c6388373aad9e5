"""A fleet of K5 projects full of uploads: what the batched-polling test and the engine
benchmark (`benchmarks/engine_polling.py`) both build.

A scenario file with N projects in one contract (one K5 user, member of all of them), a
simulator started on it, a `K5Project` row per project bound to it, volumes created in bulk,
and jobs submitted and sent through the engine's own steps (`submit_job`, `start_due_uploads`,
`send_upload`), so that K5 really has every upload in flight.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.demo import demo_scenario
from tests.support.simulator import Simulator, start_simulator

REGION = "jp-east-1"
CONTRACT = "fleet"
USER = "fleet-user"
PASSWORD = "fleet-password"
LISTING_TEMPLATES = frozenset(
    {
        "GET /blockstorage/v2/{project_id}/volumes/detail",
        "GET /image/v2/images",
    }
)


def fleet_scenario(projects: int, *, upload_limit: int, settings: dict | None = None) -> dict:
    """The demo region and zones, `projects` projects in one contract, one user in all."""
    demo = demo_scenario()
    names = [project_name(n) for n in range(projects)]
    return {
        "description": f"{projects} projects of one contract for the engine's scale proof",
        "region": REGION,
        "zones": demo["zones"],
        "settings": {"upload_limit": upload_limit, **(settings or {})},
        "domains": [{"name": CONTRACT}],
        "projects": [{"name": name, "domain": CONTRACT} for name in names],
        "users": [{"name": USER, "domain": CONTRACT, "password": PASSWORD, "projects": names}],
        "os_catalog": {"centos": demo["os_catalog"]["centos"]},
    }


def project_name(n: int) -> str:
    return f"fleet-{n + 1:02d}"


def start_fleet_simulator(
    directory: Path, projects: int, *, upload_limit: int, settings: dict | None = None
) -> Simulator:
    path = directory / "fleet-scenario.json"
    path.write_text(
        json.dumps(fleet_scenario(projects, upload_limit=upload_limit, settings=settings), indent=1)
    )
    return start_simulator("--scenario", str(path))


@dataclass
class FleetProject:
    project: object  # imaging.models.K5Project
    volume_ids: list[str]


def bind_projects(
    sim: Simulator,
    sizes: list[list[int]],
    *,
    upload_limit: int,
    numbers: Iterable[int] | None = None,
) -> list[FleetProject]:
    """A K5Project row per simulator project, and in project n one volume per size (GB) in
    sizes[n] — projects 0, 1, ... or the fleet projects `numbers`."""
    from imaging.models import K5Project

    state = sim.state()
    zones = state["zones"]
    ids = {p["name"]: p["id"] for p in state["projects"]}
    fleet = []
    numbers = range(len(sizes)) if numbers is None else numbers
    for n, project_sizes in zip(numbers, sizes, strict=True):
        name = project_name(n)
        project = K5Project(
            name=name,
            region=REGION,
            identity_url=sim.auth_url,
            contract=CONTRACT,
            k5_project_id=ids[name],
            username=USER,
            upload_limit=upload_limit,
            availability_zones_override=[z["name"] for z in zones],
            sync_server_zones={z["image_server"]: z["name"] for z in zones},
        )
        project.set_password(PASSWORD)
        project.save()
        volume_ids = []
        for size in sorted(set(project_sizes)):
            created = sim.control(
                "POST",
                f"projects/{ids[name]}/volumes",
                json={
                    "count": project_sizes.count(size),
                    "size": size,
                    "os": "centos",
                    "name_prefix": f"{name}-{size}gb-",
                },
            ).json()
            volume_ids += created["ids"]
        fleet.append(FleetProject(project, volume_ids))
    return fleet


def submit_jobs(fleet: list[FleetProject], user, *, suffix: str = "") -> list[int]:
    """One job per volume, through the same validation the web form and the API use; image
    names end in `suffix` when given (a measurement of its own after others)."""
    from imaging.engine.submission import submit_job
    from imaging.engine.validation import Submission

    job_ids = []
    for member in fleet:
        for volume_id in member.volume_ids:
            name = f"image-of-{volume_id}"
            job, created = submit_job(
                Submission(
                    project=member.project,
                    volume_id=volume_id,
                    image_name=f"{name}-{suffix}" if suffix else name,
                    preparation_confirmed=True,
                ),
                user=user,
                channel="api",
            )
            assert created
            job_ids.append(job.pk)
    return job_ids


def send_uploads(fleet: list[FleetProject]) -> dict[str, int]:
    """Take every free slot and send each upload, as the tick and the workers would."""
    from imaging.engine.pacing import start_due_uploads
    from imaging.engine.upload import send_upload

    outcomes: dict[str, int] = {}
    for member in fleet:
        for job in start_due_uploads(member.project):
            outcome = send_upload(job.pk)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def k5_offset(sim: Simulator) -> float:
    """How far K5's clock is ahead of the wall clock (what /_sim/clock/advance added)."""
    return sim.control("GET", "clock").json()["offset_seconds"]


@contextmanager
def k5_window(sim: Simulator) -> Iterator[list[float]]:
    """The K5-time span of the block, as [start, end], to pick its calls from the request log
    by their `received_at`.

    Reading the log right after a call returns, or clearing it, is not enough: the
    simulator writes a log entry just after sending its answer, so the last call's entry may
    land a moment later. Picking by arrival time attributes every call to the right block.
    """
    offset = k5_offset(sim)  # K5's clock only moves with the wall clock inside the block
    span = [time.time() + offset]
    try:
        yield span
    finally:
        span.append(time.time() + offset)


def calls_within(log: list[dict], span: list[float]) -> list[dict]:
    return [entry for entry in log if span[0] <= entry["received_at"] <= span[1]]


def calls_by_project(log: list[dict]) -> dict[str | None, dict[str, int]]:
    """The simulator's request log as {K5 project id: {"METHOD template": count}}."""
    out: dict[str | None, dict[str, int]] = {}
    for entry in log:
        key = f"{entry['method']} {entry['template']}"
        per_project = out.setdefault(entry["project_id"], {})
        per_project[key] = per_project.get(key, 0) + 1
    return out
