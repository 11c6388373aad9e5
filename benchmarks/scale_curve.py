"""How the engine's tick grows with projects and K5's latency: projects 10/50/250 (4 uploads
in flight each) x latency 0/200/400 ms -> the time of one tick (every project polled) and the
detection lag (K5 ended an upload -> the job left `uploading`), p95.

    .venv/bin/python benchmarks/scale_curve.py [--projects 10,50,250] [--latency 0,0.2,0.4]
        [--threads 32] [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--json PATH]

The ticks run in this process, as `run_ticker` runs them (the poll threads included), on a
throwaway PostgreSQL database. Detection without waiting: after each tick the simulator's clock
is moved by ENGINE_TICK_SECONDS minus the tick's own duration, so K5 time passes exactly as if
ticks fired every 10 s in real time (and a tick's own duration counts in full) — the method of
benchmarks/engine_polling.py. Figures, not pass/fail; about 10 minutes at full size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from harness import (
    bind,
    machine,
    per_project_sizes,
    print_table,
    quantile,
    set_up_django,
    throwaway_database,
    write_json,
)

BASE_SECONDS, PER_GB = 60, 12
UPLOAD = "/blockstorage/v2/{project_id}/volumes/{volume_id}/action"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", default="10,50,250")
    parser.add_argument("--latency", default="0,0.2,0.4")
    parser.add_argument("--per-project", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="ENGINE_POLL_THREADS")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    args.projects = [int(x) for x in args.projects.split(",")]
    args.latency = [float(x) for x in args.latency.split(",")]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        os.environ["ENGINE_POLL_THREADS"] = str(args.threads)
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="scale-curve-") as tmp,
        throwaway_database(args.database_url) as database_url,
    ):
        os.environ.pop("REDIS_URL", None)  # the ORM broker, in the throwaway database
        set_up_django(
            {
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "DATABASE_URL": database_url,
                "DJANGO_DEBUG": "false",
                "LOG_LEVEL": "WARNING",
                "PORTAL_VAR_DIR": tmp,
            }
        )
        from django.conf import settings
        from django.contrib.auth.models import User

        from imaging.engine import connections
        from imaging.models import Membership, Role
        from tests.support.fleet import start_fleet_simulator

        sim = start_fleet_simulator(Path(tmp), sum(args.projects), upload_limit=1000)
        user = User.objects.create_user("bench")
        try:
            offset = 0
            for projects in args.projects:
                numbers = list(range(offset, offset + projects))
                offset += projects
                sizes = per_project_sizes(projects, projects * args.per_project)
                fleet = bind(sim, numbers, sizes, upload_limit=1000)
                for member in fleet:
                    Membership.objects.create(user=user, project=member.project, role=Role.MEMBER)
                for latency in args.latency:
                    row = measure(args, sim, fleet, user, latency, settings.ENGINE_TICK_SECONDS)
                    rows.append(row)
                    print(row, flush=True)
        finally:
            connections.forget_clients()
            sim.stop()
    print_table(
        f"One tick and detection lag, {args.per_project} uploads in flight per project, "
        f"a tick every 10 s, {os.environ.get('ENGINE_POLL_THREADS', '32')} poll threads",
        [
            "projects",
            "latency ms",
            "tick s (median)",
            "K5 calls/tick",
            "detect p50 s",
            "detect p95 s",
        ],
        [
            [
                r["projects"],
                round(r["latency"] * 1000),
                r["tick_seconds"],
                r["calls_per_tick"],
                r["detection_p50"],
                r["detection_p95"],
            ]
            for r in rows
        ],
    )
    write_json("scale_curve", {"machine": machine(), "rows": rows}, args.json)
    return 0


def measure(args, sim, fleet, user, latency: float, interval: float) -> dict:
    from imaging.engine.tick import tick
    from imaging.models import EventKind, ImageJob, JobEvent, JobState
    from tests.support.fleet import send_uploads, submit_jobs

    sim.control("DELETE", "faults")
    # Image names of this measurement's own: K5 still holds the images of the ones before.
    job_ids = submit_jobs(fleet, user, suffix=f"{latency:g}")
    outcomes = send_uploads(fleet)
    assert outcomes == {"accepted": len(job_ids)}, outcomes
    ends = upload_ends(sim, job_ids)
    tick()  # sign every client in, unmeasured
    if latency:
        sim.add_fault(kind="http", path=".", latency=latency, times=None)
    # One tick, every upload in flight.
    walls, calls = [], []
    for _ in range(args.repeats):
        sim.clear_requests()
        began = time.perf_counter()
        report = tick()
        walls.append(time.perf_counter() - began)
        time.sleep(latency + 0.1)
        calls.append(len(sim.requests_log()))
        assert not report.errors, report.errors
    # Detection: a tick every `interval` of K5 time until every upload is seen.
    clock_offset = sim.control("GET", "clock").json()["offset_seconds"]
    last_event = JobEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    lags: list[float] = []
    outcomes: Counter = Counter()
    jobs = ImageJob.objects.filter(pk__in=job_ids)
    while jobs.filter(state=JobState.UPLOADING).exists():
        began = time.perf_counter()
        tick()
        wall = time.perf_counter() - began
        left = JobEvent.objects.filter(
            pk__gt=last_event,
            job_id__in=job_ids,
            kind=EventKind.TRANSITION,
            from_state=JobState.UPLOADING,
        )
        for pk, job_id, created_at, to in left.values_list(
            "pk", "job_id", "created_at", "to_state"
        ):
            lags.append(created_at.timestamp() + clock_offset - ends[job_id])
            outcomes[to] += 1
            last_event = max(last_event, pk)
        pause = max(interval - wall, 0)
        sim.advance(pause)
        clock_offset += pause
    failed = jobs.filter(state=JobState.FAILED).values_list("error_message", flat=True)[:1]
    if failed:
        print(f"a job failed: {failed[0]}", flush=True)
    # Out of the next measurement's way, and not "succeeded": the engine learns a project's
    # upload speed from its successful jobs, and K5's clock was moved under these.
    jobs.update(state=JobState.CANCELLED)
    return {
        "projects": len(fleet),
        "latency": latency,
        "tick_seconds": round(statistics.median(walls), 2),
        "calls_per_tick": max(calls),
        "detection_p50": round(quantile(lags, 0.5), 1),
        "detection_p95": round(quantile(lags, 0.95), 1),
        "detection_max": round(max(lags), 1),
        "left_uploading_for": dict(outcomes),
    }


def upload_ends(sim, job_ids) -> dict[int, float]:
    """K5's end of each job's upload: its call's arrival plus K5's duration for the size."""
    from imaging.models import ImageJob

    arrived: dict[str, float] = {}
    for entry in sim.requests_log():
        if entry["template"] == UPLOAD and entry["status"] == 202:
            arrived[entry["path"].split("/")[-2]] = entry["received_at"]
    return {
        job_id: arrived[volume_id] + BASE_SECONDS + PER_GB * size
        for job_id, volume_id, size in ImageJob.objects.filter(pk__in=job_ids).values_list(
            "pk", "volume_id", "volume_size_gb"
        )
    }


if __name__ == "__main__":
    raise SystemExit(main())
