"""What following uploads costs K5, and how soon their end is seen: the engine against
openstacksdk's `wait_for_status` (one resource, a GET every 2 s), in the same run, against the
same simulator answering every call in --latency seconds.

    .venv/bin/python benchmarks/tracking_cost.py
        [--cases 25:100,250:1000] [--queued 10000] [--latency 0.4]
        [--database-url postgres://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/13] [--json PATH]

Per case (P projects, N uploads, N/P per project):
  engine  P K5Project rows, N jobs submitted through the engine's validation and their uploads
          sent; with the case that has the most projects, --queued more jobs that wait behind
          the pacing (each project's 4 uploads an hour are in flight). Then 2 real qcluster
          processes (PostgreSQL + Redis), ticking as in production (ENGINE_TICK_SECONDS 10),
          follow the uploads until every job has left `uploading`.
  sdk     the same volumes uploaded again by openstacksdk, each then followed by
          `block_storage.wait_for_status(volume, "available", interval=2)` in a thread of its
          own (one process), until every volume is back.
Printed for each: K5 calls per minute while following (from the simulator's log: the listings,
or the GETs of one volume; sign-ins counted apart) and their ratio, detection lag (K5 ended
the upload -> the job left `uploading`, or wait_for_status returned) p50/p95/max, the
followers' CPU (all processes of both clusters, or the SDK's process) and peak RSS.

Uploads are sent at full speed before the followers start; K5 then runs them with an hour
added (upload_base_seconds 3600) and, once the followers are steady, the simulator's clock is
moved so that the first upload ends 30 s later and the rest over the next two minutes
(12 s per GB, 1-10 GB). K5 time = wall clock + the simulator's offset throughout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import (
    ROOT,
    Clusters,
    bind,
    environment,
    machine,
    per_project_sizes,
    print_table,
    quantile,
    set_up_django,
    throwaway_database,
    write_json,
)

BASE_SECONDS = 3600
PER_GB = 12
LISTINGS = {"/blockstorage/v2/{project_id}/volumes/detail", "/image/v2/images"}
ONE_VOLUME = "/blockstorage/v2/{project_id}/volumes/{volume_id}"
ONE_IMAGE = "/image/v2/images/{image_id}"
TOKENS = "/identity/v3/auth/tokens"
UPLOAD = "/blockstorage/v2/{project_id}/volumes/{volume_id}/action"
FIRST_END_AFTER = 30  # seconds after the followers are steady


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="25:100,250:1000", help="projects:uploads,...")
    parser.add_argument("--queued", type=int, default=10000)
    parser.add_argument("--latency", type=float, default=0.4)
    parser.add_argument("--interval", type=float, default=2.0, help="wait_for_status interval")
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--skip-sdk", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    args.cases = [tuple(int(x) for x in c.split(":")) for c in args.cases.split(",")]
    return args


@dataclass
class Phase:
    follower: str
    projects: int
    uploads: int
    queued: int = 0
    minutes: float = 0.0
    tracking_calls: int = 0
    sign_ins: int = 0
    calls_per_minute: float = 0.0  # over the whole window, as uploads end one by one
    steady_calls_per_minute: float = 0.0  # while every upload is in flight
    per_project_per_minute: list[float] = field(default_factory=list)
    detection: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    cpu_percent_of_a_core: float = 0.0
    peak_rss_mib: float = 0.0
    total_rss_mib: float = 0.0
    other_calls: dict[str, int] = field(default_factory=dict)


def main(argv=None) -> int:
    args = parse_args(argv)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory(prefix="tracking-cost-") as tmp,
        throwaway_database(args.database_url) as database_url,
    ):
        env = environment(database_url, args.redis_url, queue, REDIS_CACHE_URL=args.redis_url)
        set_up_django(env)
        from tests.support.fleet import start_fleet_simulator

        total = sum(p for p, _ in args.cases)
        sim = start_fleet_simulator(
            Path(tmp),
            total,
            upload_limit=1000,
            settings={"upload_base_seconds": BASE_SECONDS, "upload_seconds_per_gb": PER_GB},
        )
        phases: list[Phase] = []
        try:
            offset = 0
            for n, (projects, uploads) in enumerate(args.cases):
                queued = args.queued if n == len(args.cases) - 1 else 0
                names = list(range(offset, offset + projects))
                offset += projects
                print(f"\n== {projects} projects, {uploads} uploads, {queued} queued", flush=True)
                engine, volumes = engine_phase(args, sim, env, Path(tmp), names, uploads, queued)
                phases.append(engine)
                if not args.skip_sdk:
                    phases.append(sdk_phase(args, sim, volumes))
        finally:
            from imaging.engine import connections

            connections.forget_clients()
            sim.stop()
    report(args, phases)
    return 0


# --- the engine ---------------------------------------------------------------------------


def engine_phase(args, sim, env, tmp: Path, numbers, uploads, queued):
    from django.contrib.auth.models import User

    from imaging.models import ImageJob, JobState, Membership, Role
    from tests.support.fleet import send_uploads, submit_jobs

    sizes = per_project_sizes(len(numbers), uploads)
    fleet = bind(sim, numbers, sizes, upload_limit=4)
    user, _ = User.objects.get_or_create(username="bench")
    for member in fleet:
        Membership.objects.get_or_create(user=user, project=member.project, role=Role.MEMBER)
    began = time.monotonic()
    job_ids = submit_jobs(fleet, user)
    outcomes = send_uploads(fleet)
    if outcomes != {"accepted": uploads}:
        raise SystemExit(f"not every upload was accepted: {outcomes}")
    print(f"submitted and sent in {time.monotonic() - began:.0f} s", flush=True)
    if queued:
        add_queued_jobs([m.project for m in fleet], user, queued)

    clusters = Clusters({**env, "Q_CLUSTER_NAME": f"{env['Q_CLUSTER_NAME']}-{len(numbers)}"}, tmp)
    latency = add_latency(sim, args.latency)
    clusters.start(args.clusters)
    try:
        steady(sim, clusters)
        phase = Phase("engine", len(numbers), uploads, queued)
        jobs = ImageJob.objects.filter(pk__in=job_ids)
        window, usage_before = start_window(sim), clusters.usage()
        jump_to_first_end(sim, "image-of-", window)
        while jobs.filter(state=JobState.UPLOADING).exists():
            time.sleep(1)
        usage_after = clusters.usage()
        end_window(sim, window)
    finally:
        clusters.stop()
        remove_fault(sim, latency)
    offset = window["offset_after"]
    ends = upload_ends(sim, window, prefix="image-of-")
    for job in jobs:
        left = job.events.get(kind="transition", from_state=JobState.UPLOADING)
        phase.detection.append(left.created_at.timestamp() + offset - ends[job.volume_id])
    count_calls(phase, sim, window, [m.project.k5_project_id for m in fleet])
    wall = window["wall_end"] - window["wall_start"]
    phase.cpu_seconds = usage_after.cpu - usage_before.cpu
    phase.cpu_percent_of_a_core = 100 * phase.cpu_seconds / wall
    phase.peak_rss_mib = usage_after.peak_rss / 2**20
    phase.total_rss_mib = usage_after.rss_total / 2**20
    # Done with: out of the way of the next case's ticker.
    ImageJob.objects.filter(pk__in=job_ids).update(state=JobState.SUCCEEDED)
    ImageJob.objects.filter(state=JobState.QUEUED).update(state=JobState.CANCELLED)
    volumes = {m.project.k5_project_id: m.volume_ids for m in fleet}
    summary(phase)
    return phase, volumes


def add_queued_jobs(projects, user, count: int) -> None:
    """Jobs that wait behind the pacing (every project's budget is in flight): rows as
    submission leaves them, made in bulk."""
    from imaging.models import ImageJob

    rows = [
        ImageJob(
            project=projects[n % len(projects)],
            volume_id=f"queued-{n:05d}",
            volume_size_gb=10,
            image_name=f"queued-{n:05d}",
            preparation_confirmed="linux-network-settings-removed",
            requested_by=user,
            requested_by_name=user.username,
            waiting_reason="Waiting for an upload slot.",
        )
        for n in range(count)
    ]
    ImageJob.objects.bulk_create(rows, batch_size=1000)
    print(f"{count} queued jobs added", flush=True)


def steady(sim, clusters) -> None:
    """Wait until a ticker runs and has listed every project once (its clients signed in)."""
    from imaging.models import EngineLease

    deadline = time.monotonic() + 300
    while not EngineLease.objects.filter(name="ticker").exists():
        if time.monotonic() > deadline:
            raise SystemExit("no ticker started")
        time.sleep(0.5)
    time.sleep(25)


# --- openstacksdk ---------------------------------------------------------------------------


def sdk_phase(args, sim, volumes: dict[str, list[str]]) -> Phase:
    from tests.support.fleet import CONTRACT, PASSWORD, REGION, USER

    uploads = sum(len(v) for v in volumes.values())
    phase = Phase("openstacksdk", len(volumes), uploads)
    spec = {
        "auth_url": sim.auth_url,
        "contract": CONTRACT,
        "user": USER,
        "password": PASSWORD,
        "region": REGION,
        "interval": args.interval,
        "volumes": volumes,
    }
    follower = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "sdk_follower.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert follower.stdin and follower.stdout
    follower.stdin.write(json.dumps(spec) + "\n")
    follower.stdin.flush()
    sent = json.loads(follower.stdout.readline())
    print(f"openstacksdk sent {sent['sent']} uploads", flush=True)
    latency = add_latency(sim, args.latency)
    try:
        window = start_window(sim)
        follower.stdin.write("go\n")
        follower.stdin.flush()
        time.sleep(10)  # every thread started and asking
        jump_to_first_end(sim, "sdk-", window)
        result = json.loads(follower.stdout.readline())
        follower.wait(timeout=60)
        end_window(sim, window)
    finally:
        remove_fault(sim, latency)
    ends = upload_ends(sim, window, prefix="sdk-")
    offset = window["offset_after"]
    phase.detection = [t + offset - ends[vid] for vid, t in result["detected"].items()]
    count_calls(phase, sim, window, list(volumes))
    wall = window["wall_end"] - window["wall_start"]
    phase.cpu_seconds = result["cpu"]
    phase.cpu_percent_of_a_core = 100 * result["cpu"] / wall
    phase.peak_rss_mib = phase.total_rss_mib = result["maxrss"] / 2**20
    summary(phase)
    return phase


# --- K5's side ------------------------------------------------------------------------------


def add_latency(sim, seconds: float) -> str | None:
    if seconds <= 0:
        return None
    return sim.add_fault(kind="http", path=".", latency=seconds, times=None)


def remove_fault(sim, fault_id: str | None) -> None:
    if fault_id:
        sim.control("DELETE", "faults")


def start_window(sim) -> dict:
    offset = sim.control("GET", "clock").json()["offset_seconds"]
    now = time.time()
    return {"wall_start": now, "k5_start": now + offset}


def jump_to_first_end(sim, prefix: str, window: dict) -> None:
    """Move K5's clock so that the first upload still running ends FIRST_END_AFTER s from now.
    Until then every upload is in flight: the steady state (window["steady"], K5 times)."""
    from django.utils.dateparse import parse_datetime

    state = sim.state()
    ends = [
        parse_datetime(u["ends_at"]).timestamp()
        for u in state["uploads"]
        if u["state"] == "running" and u["image_name"].startswith(prefix)
    ]
    offset = sim.control("GET", "clock").json()["offset_seconds"]
    k5_now = time.time() + offset
    jump = max(min(ends) - k5_now - FIRST_END_AFTER, 0)
    if jump > 0:
        sim.advance(jump)
    window["steady"] = (k5_now + jump, min(ends))


def end_window(sim, window: dict) -> None:
    time.sleep(1)  # the last calls' log entries
    offset = sim.control("GET", "clock").json()["offset_seconds"]
    window["wall_end"] = time.time()
    window["offset_after"] = offset
    window["k5_end"] = window["wall_end"] + offset


def upload_ends(sim, window: dict, *, prefix: str) -> dict[str, float]:
    """When K5 finished each upload of the phase, by volume: the arrival of its upload call
    (K5 time, sub-second; sent without latency) plus K5's duration for the size."""
    from django.utils.dateparse import parse_datetime

    posts: dict[str, list[float]] = {}
    for entry in sim.requests_log():
        if entry["template"] == UPLOAD and entry["method"] == "POST" and entry["status"] == 202:
            posts.setdefault(entry["path"].split("/")[-2], []).append(entry["received_at"])
    ends = {}
    for upload in sim.state()["uploads"]:
        if not upload["image_name"].startswith(prefix):
            continue
        accepted = parse_datetime(upload["accepted_at"]).timestamp()
        arrived = max(t for t in posts[upload["volume_id"]] if t <= accepted + 1)
        ends[upload["volume_id"]] = arrived + BASE_SECONDS + PER_GB * upload["size"]
        shown = parse_datetime(upload["ends_at"]).timestamp()
        if not -0.5 <= ends[upload["volume_id"]] - shown <= 1.5:
            raise SystemExit(
                f"end of {upload['volume_id']}: {ends[upload['volume_id']]} vs {shown}"
            )
    return ends


def count_calls(phase: Phase, sim, window: dict, project_ids: list[str]) -> None:
    log = [
        e
        for e in sim.requests_log()
        if window["k5_start"] <= e["received_at"] <= window["k5_end"]
        and e["project_id"] in set(project_ids) | {None}
    ]
    # K5 minutes passed in the window (the jump is K5 time that was never waited for).
    minutes = (window["wall_end"] - window["wall_start"]) / 60
    tracking = [e for e in log if e["template"] in LISTINGS | {ONE_VOLUME, ONE_IMAGE}]
    phase.minutes = minutes
    phase.tracking_calls = len(tracking)
    phase.sign_ins = sum(1 for e in log if e["template"] == TOKENS)
    phase.calls_per_minute = len(tracking) / minutes
    steady_from, steady_to = window["steady"]
    steady = [e for e in tracking if steady_from <= e["received_at"] <= steady_to]
    phase.steady_calls_per_minute = len(steady) / ((steady_to - steady_from) / 60)
    per_project: dict[str, int] = dict.fromkeys(project_ids, 0)
    for entry in tracking:
        per_project[entry["project_id"]] = per_project.get(entry["project_id"], 0) + 1
    phase.per_project_per_minute = sorted(n / minutes for n in per_project.values())
    other: dict[str, int] = {}
    for entry in log:
        if entry["template"] not in LISTINGS | {ONE_VOLUME, ONE_IMAGE, TOKENS}:
            key = f"{entry['method']} {entry['template']}"
            other[key] = other.get(key, 0) + 1
    phase.other_calls = other


def summary(phase: Phase) -> None:
    print(
        f"{phase.follower}: {phase.steady_calls_per_minute:.0f} tracking calls/min in flight, "
        f"{phase.calls_per_minute:.0f} over "
        f"{phase.minutes:.1f} min, detection p95 {quantile(phase.detection, 0.95):.1f} s, "
        f"CPU {phase.cpu_percent_of_a_core:.0f}% of a core",
        flush=True,
    )


def report(args, phases: list[Phase]) -> None:
    rows = []
    for engine, sdk in pairs(phases):
        label = f"{engine.uploads} uploads / {engine.projects} projects"
        if engine.queued:
            label += f" + {engine.queued} queued"
        ratio = (
            (sdk.steady_calls_per_minute / engine.steady_calls_per_minute)
            if sdk and engine.steady_calls_per_minute
            else float("nan")
        )
        rows.append(
            [
                label,
                round(engine.steady_calls_per_minute),
                round(sdk.steady_calls_per_minute) if sdk else "-",
                f"{ratio:.1f}x" if sdk else "-",
                f"{quantile(engine.detection, 0.5):.1f} / {quantile(engine.detection, 0.95):.1f}",
                f"{quantile(sdk.detection, 0.5):.1f} / {quantile(sdk.detection, 0.95):.1f}"
                if sdk
                else "-",
                f"{engine.cpu_percent_of_a_core:.0f}%",
                f"{sdk.cpu_percent_of_a_core:.0f}%" if sdk else "-",
                f"{engine.peak_rss_mib:.0f} / {engine.total_rss_mib:.0f}",
                f"{sdk.peak_rss_mib:.0f}" if sdk else "-",
            ]
        )
    print("calls/min: K5 calls that follow the uploads (listings, or GETs of one volume) per")
    print("minute while every upload is in flight; sign-ins and the upload calls apart.")
    print_table(
        f"Following uploads, K5 answering every call in {args.latency:g} s "
        "(engine: 2 qclusters, tick 10 s; openstacksdk: wait_for_status every "
        f"{args.interval:g} s per volume)",
        [
            "case",
            "engine calls/min",
            "sdk calls/min",
            "sdk/engine",
            "engine detect p50/p95 s",
            "sdk detect p50/p95 s",
            "engine CPU (1 core)",
            "sdk CPU",
            "engine RSS peak/total MiB",
            "sdk RSS MiB",
        ],
        rows,
    )
    for phase in phases:
        if phase.follower == "engine":
            per = phase.per_project_per_minute
            print(
                f"engine, {phase.projects} projects: listings per project per minute "
                f"min {min(per):.1f} max {max(per):.1f}; sign-ins {phase.sign_ins}; "
                f"other calls {phase.other_calls or 'none'}"
            )
    write_json(
        "tracking_cost",
        {
            "machine": machine(),
            "args": {k: v for k, v in vars(args).items() if k != "database_url"},
            "phases": [asdict(p) for p in phases],
        },
        args.json,
    )


def p50_p95(values: list[float]) -> str:
    return f"{quantile(values, 0.5):.1f} / {quantile(values, 0.95):.1f}"


def pairs(phases):
    out = []
    for n, phase in enumerate(phases):
        if phase.follower == "engine":
            nxt = phases[n + 1] if n + 1 < len(phases) else None
            out.append((phase, nxt if nxt and nxt.follower != "engine" else None))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
