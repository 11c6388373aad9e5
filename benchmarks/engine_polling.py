"""How the engine tick scales: batched polling against per-job polling, measured in one run.

    .venv/bin/python benchmarks/engine_polling.py [--jobs 1000] [--projects 20]
        [--repeats 3] [--database-url postgres://postgres@127.0.0.1:5432/postgres]

Builds a fleet (a simulator with N projects, K5Project rows, one job per volume submitted
through the engine's validation, every upload really sent), then prints:
  (a) K5 calls per tick, counted from the simulator's request log;
  (b) wall and CPU time of one tick (median of --repeats) while every upload is in flight;
  (c) completion-detection latency: from K5 finishing an upload to the job leaving
      `uploading`, with a tick every ENGINE_TICK_SECONDS of K5 time;
  (d) peak Python memory of one tick (tracemalloc);
each for the engine's tick and for a baseline measured in the same run: the same tick with
`poll_project` replaced by a per-job poller (volume_get + image_get per uploading job,
image_get per verifying job, through the facade). Figures, not pass/fail: see README.md here.

The database is a throwaway: a temporary SQLite file (default), or with --database-url a
temporary database created on that PostgreSQL server and dropped at the end. The developer's
var/db.sqlite3 is never touched. Exit status 0 unless something breaks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# K5's default timeline in the simulator: 60 s + 12 s per GB.
UPLOAD_BASE_SECONDS = 60
UPLOAD_SECONDS_PER_GB = 12
# Sizes from 10 GB (180 s) to 28 GB (396 s): no upload ends while the in-flight ticks are
# measured, and the ends spread over ~20 tick intervals for the latency figures.
SIZES = [10 + 2 * (n % 10) for n in range(10)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="ticks timed per variant for (b); the median is printed",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server to create a temporary database on "
        "(default: a temporary SQLite file)",
    )
    args = parser.parse_args(argv)
    if args.projects < 1 or args.jobs < args.projects or args.repeats < 1:
        parser.error("need --projects >= 1, --jobs >= --projects, --repeats >= 1")
    return args


@contextlib.contextmanager
def throwaway_database(server_url: str, directory: str) -> Iterator[str]:
    if not server_url:
        yield f"sqlite:///{directory}/engine-bench.sqlite3"
        return
    import psycopg

    parts = urlsplit(server_url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit("--database-url must be a postgres:// URL")
    name = f"engine_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(server_url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass
class TickFigures:
    wall: float
    cpu: float
    calls: int
    max_project_calls: int
    moved: int


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp,
        throwaway_database(args.database_url, tmp) as database_url,
    ):
        # DEBUG off, as in production: with it on, Django keeps every query in memory.
        os.environ.update(
            DJANGO_SETTINGS_MODULE="portal.settings",
            PORTAL_VAR_DIR=tmp,
            DATABASE_URL=database_url,
            LOG_LEVEL="WARNING",
            DJANGO_DEBUG="false",
        )
        # The ORM broker, in the throwaway database: a tick's notifications must not reach a
        # developer's Redis.
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from tests.support.fleet import start_fleet_simulator

        # K5 accepts every upload at once (the pacing window is not what is measured here).
        sim = start_fleet_simulator(
            Path(tmp), args.projects, upload_limit=args.jobs // args.projects + 1
        )
        try:
            run(args, sim, database_url)
        finally:
            from imaging.engine import connections as engine_connections

            engine_connections.forget_clients()
            sim.stop()
    return 0


def run(args: argparse.Namespace, sim, database_url: str) -> None:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.utils import timezone

    from imaging.models import ImageJob, JobState, Membership, Role
    from tests.support.fleet import bind_projects, send_uploads, submit_jobs

    base, extra = divmod(args.jobs, args.projects)
    print(
        f"database: {'PostgreSQL' if database_url.startswith('postgres') else 'SQLite'} "
        f"(throwaway); building {args.jobs} jobs in {args.projects} projects ...",
        flush=True,
    )
    user = User.objects.create_user("bench")  # no password: it never signs in
    sizes = [
        [SIZES[i % len(SIZES)] for i in range(base + (1 if n < extra else 0))]
        for n in range(args.projects)
    ]
    fleet = bind_projects(sim, sizes, upload_limit=base + 1)
    for member in fleet:
        Membership.objects.create(user=user, project=member.project, role=Role.MEMBER)
    began = time.perf_counter()
    submit_jobs(fleet, user)
    submitted = time.perf_counter() - began
    began = time.perf_counter()
    outcomes = send_uploads(fleet)
    sent = time.perf_counter() - began
    if outcomes != {"accepted": args.jobs}:
        raise SystemExit(f"not every upload was accepted: {outcomes}")
    print(f"submitted in {submitted:.1f} s, {args.jobs} uploads sent in {sent:.1f} s", flush=True)

    # (a), (b), (d): every job uploading, none finishing.
    batched = [measure_tick(sim, batched_tick) for _ in range(args.repeats)]
    per_job = [measure_tick(sim, per_job_tick) for _ in range(args.repeats)]
    profile_batched = profile_tick(batched_tick)
    profile_per_job = profile_tick(per_job_tick)
    if any(f.moved for f in batched + per_job):
        print("warning: some uploads ended during the in-flight measurement", file=sys.stderr)

    # (c): tick every ENGINE_TICK_SECONDS of K5 time until every upload is detected.
    latency, ticks = detection_latency(sim, settings.ENGINE_TICK_SECONDS)

    # A tick in the settle window (every job verifying), then the tick that ends them all.
    verifying_batched = median_figures(
        [measure_tick(sim, batched_tick) for _ in range(args.repeats)]
    )
    verifying_per_job = median_figures(
        [measure_tick(sim, per_job_tick) for _ in range(args.repeats)]
    )
    verifying_profile = (profile_tick(batched_tick)[1], profile_tick(per_job_tick)[1])
    # The settle window is portal wall time, which this benchmark does not wait for: end it.
    ImageJob.objects.filter(state=JobState.VERIFYING).update(sync_watch_until=timezone.now())
    ending_per_job = measure_tick(sim, per_job_tick, roll_back=True)
    ending_batched = measure_tick(sim, batched_tick, roll_back=True)
    ending_committed = measure_tick(sim, batched_tick)
    states = Counter(ImageJob.objects.values_list("state", flat=True))
    if states != {JobState.SUCCEEDED: args.jobs}:
        print(f"warning: jobs not all succeeded: {dict(states)}", file=sys.stderr)

    report(
        args,
        median_figures(batched),
        median_figures(per_job),
        profile_batched,
        profile_per_job,
        latency,
        ticks,
        verifying_batched,
        verifying_per_job,
        verifying_profile,
        ending_batched,
        ending_per_job,
        ending_committed,
        settings.ENGINE_TICK_SECONDS,
    )


# --- the two ticks --------------------------------------------------------------------------


def batched_tick():
    from imaging.engine.tick import tick

    return tick()


def per_job_tick():
    """The same tick, with each job polled on its own (the baseline)."""
    from imaging.engine import tick as tick_module

    original = tick_module.poll_project
    tick_module.poll_project = poll_project_per_job
    try:
        return tick_module.tick()
    finally:
        tick_module.poll_project = original


def poll_project_per_job(project, now=None):
    """What a per-job poller asks K5 (as the SDK's wait_for_status does, once per job):
    the volume and the image of an uploading job, the image of a verifying one. The decisions
    are the engine's own (`advance_job`)."""
    from django.utils import timezone

    from imaging.engine.connections import client_for
    from imaging.engine.polling import POLLED_STATES, PollResult, advance_job
    from imaging.k5 import K5NotFound, blockstorage, image
    from imaging.models import ImageJob, InvalidTransition, JobState

    result = PollResult()
    jobs = list(
        ImageJob.objects.filter(project=project, state__in=POLLED_STATES).order_by(
            "created_at", "id"
        )
    )
    result.jobs = len(jobs)
    client = client_for(project)
    for job in jobs:
        volumes, images = {}, {}
        if job.state in (JobState.SUBMITTING, JobState.UPLOADING):
            with contextlib.suppress(K5NotFound):
                volumes[job.volume_id] = blockstorage.volume_get(client, job.volume_id)
        if job.image_id:
            with contextlib.suppress(K5NotFound):
                images[job.image_id] = image.image_get(client, job.image_id)
        try:
            outcome = advance_job(
                job, volumes, images, list(images.values()), now or timezone.now()
            )
        except InvalidTransition:
            outcome = None
        if outcome:
            result.moved[outcome] = result.moved.get(outcome, 0) + 1
    return result


class _RollBack(Exception):
    pass


def measure_tick(sim, tick_fn: Callable, *, roll_back: bool = False) -> TickFigures:
    """One tick's wall and CPU time (this process: the engine and, on SQLite, the database;
    not the simulator) and the K5 calls the simulator logged during it."""
    from django.db import transaction

    from tests.support.fleet import calls_by_project, calls_within, k5_window

    sim.clear_requests()
    try:
        with (
            k5_window(sim) as window,
            transaction.atomic() if roll_back else contextlib.nullcontext(),
        ):
            wall, cpu = time.perf_counter(), time.process_time()
            tick_report = tick_fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if roll_back:
                raise _RollBack
    except _RollBack:
        pass
    # The simulator logs a call just after answering it: give the last one a moment, then
    # count the calls that arrived during the tick.
    time.sleep(0.05)
    per_project = calls_by_project(calls_within(sim.requests_log(), window))
    if tick_report.errors:
        raise SystemExit(f"the tick reported errors: {tick_report.errors}")
    return TickFigures(
        wall=wall,
        cpu=cpu,
        calls=sum(sum(c.values()) for c in per_project.values()),
        max_project_calls=max((sum(c.values()) for c in per_project.values()), default=0),
        moved=sum(tick_report.moved.values()),
    )


def median_figures(figures: list[TickFigures]) -> TickFigures:
    return TickFigures(
        wall=statistics.median(f.wall for f in figures),
        cpu=statistics.median(f.cpu for f in figures),
        calls=max(f.calls for f in figures),
        max_project_calls=max(f.max_project_calls for f in figures),
        moved=max(f.moved for f in figures),
    )


def profile_tick(tick_fn: Callable) -> tuple[int, int]:
    """(peak Python memory in bytes, database queries) of one tick, untimed: tracing
    allocations and capturing queries slow it down."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()
    tracemalloc.start()
    try:
        with CaptureQueriesContext(connection) as queries:
            tick_fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, len(queries)


def detection_latency(sim, interval: float) -> tuple[list[float], list[TickFigures]]:
    """Tick as `run_ticker` does (pause = interval - the tick's own duration), but instead of
    sleeping, move the simulator's clock by the pause: K5 time runs exactly as if the ticks
    fired every `interval` seconds, without waiting for it in real time.

    K5 time = wall clock + the simulator's offset; the portal's clock is the wall clock, so a
    job that left `uploading` at portal time T did so at K5 time T + offset.
    """
    from imaging.models import EventKind, ImageJob, JobEvent, JobState

    offset = sim.control("GET", "clock").json()["offset_seconds"]
    ends = {}
    for job_id, submitted_at, size in ImageJob.objects.values_list(
        "pk", "submitted_at", "volume_size_gb"
    ):
        ends[job_id] = submitted_at.timestamp() + UPLOAD_BASE_SECONDS + UPLOAD_SECONDS_PER_GB * size
    check_ends_against_simulator(sim, ends)
    last_event = JobEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    latencies: list[float] = []
    ticks: list[TickFigures] = []
    while ImageJob.objects.filter(state=JobState.UPLOADING).exists():
        figures = measure_tick(sim, batched_tick)
        ticks.append(figures)
        left = JobEvent.objects.filter(
            pk__gt=last_event, kind=EventKind.TRANSITION, from_state=JobState.UPLOADING
        )
        for pk, job_id, created_at in left.values_list("pk", "job_id", "created_at"):
            latencies.append(created_at.timestamp() + offset - ends[job_id])
            last_event = max(last_event, pk)
        pause = max(interval - figures.wall, 0)
        sim.advance(pause)
        offset += pause
        if len(ticks) > 10_000:
            raise SystemExit("uploads never ended")
    return latencies, ticks


def check_ends_against_simulator(sim, ends: dict[int, float]) -> None:
    """Our K5 end times (from the moment K5 accepted each call) agree with the simulator's
    own `ends_at` (which it shows to the second)."""
    from django.utils.dateparse import parse_datetime

    from imaging.models import ImageJob

    sim_ends = {
        u["image_id"]: parse_datetime(u["ends_at"]).timestamp() for u in sim.state()["uploads"]
    }
    for job_id, image_id in ImageJob.objects.values_list("pk", "image_id"):
        if not -0.5 <= ends[job_id] - sim_ends[image_id] <= 1.5:
            raise SystemExit(
                f"job {job_id}: end time {ends[job_id]} is not the simulator's {sim_ends[image_id]}"
            )


# --- the table ------------------------------------------------------------------------------


def report(
    args,
    batched,
    per_job,
    profile_b,
    profile_p,
    latency,
    ticks,
    verifying_b,
    verifying_p,
    verifying_queries,
    ending_b,
    ending_p,
    ending_committed,
    interval,
) -> None:
    def ratio(base: float, ours: float) -> str:
        return f"{base / ours:.1f}x" if ours else "-"

    rows = [
        (
            f"K5 calls per tick ({args.jobs} uploading)",
            f"{batched.calls}",
            f"{per_job.calls}",
            ratio(per_job.calls, batched.calls),
        ),
        (
            "  most calls for one project",
            f"{batched.max_project_calls}",
            f"{per_job.max_project_calls}",
            ratio(per_job.max_project_calls, batched.max_project_calls),
        ),
        (
            "tick wall time, all uploading",
            seconds(batched.wall),
            seconds(per_job.wall),
            ratio(per_job.wall, batched.wall),
        ),
        (
            "tick CPU time, all uploading",
            seconds(batched.cpu),
            seconds(per_job.cpu),
            ratio(per_job.cpu, batched.cpu),
        ),
        (
            "tick peak memory (tracemalloc)",
            mib(profile_b[0]),
            mib(profile_p[0]),
            ratio(profile_p[0], profile_b[0]),
        ),
        (
            "database queries per tick, all uploading",
            f"{profile_b[1]}",
            f"{profile_p[1]}",
            ratio(profile_p[1], profile_b[1]),
        ),
        (
            "K5 calls per tick, all verifying",
            f"{verifying_b.calls}",
            f"{verifying_p.calls}",
            ratio(verifying_p.calls, verifying_b.calls),
        ),
        (
            "tick wall time, all verifying",
            seconds(verifying_b.wall),
            seconds(verifying_p.wall),
            ratio(verifying_p.wall, verifying_b.wall),
        ),
        (
            "tick CPU time, all verifying",
            seconds(verifying_b.cpu),
            seconds(verifying_p.cpu),
            ratio(verifying_p.cpu, verifying_b.cpu),
        ),
        (
            "database queries per tick, all verifying",
            f"{verifying_queries[0]}",
            f"{verifying_queries[1]}",
            ratio(verifying_queries[1], verifying_queries[0]),
        ),
        (
            f"tick wall, {ending_b.moved} jobs ending (rolled back)",
            seconds(ending_b.wall),
            seconds(ending_p.wall),
            ratio(ending_p.wall, ending_b.wall),
        ),
        (
            f"tick wall, {ending_committed.moved} jobs ending (committed)",
            seconds(ending_committed.wall),
            "",
            "",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'':{width}}  {'batched':>10}  {'per-job':>10}  {'per-job/batched':>15}")
    for label, ours, base, r in rows:
        print(f"{label:{width}}  {ours:>10}  {base:>10}  {r:>15}")
    print()
    print(
        f"completion detection (K5 finished -> job left uploading), a tick every "
        f"{interval:g} s of K5 time, {len(ticks)} ticks:"
    )
    if latency:
        q = statistics.quantiles(latency, n=100, method="inclusive")
        print(
            f"  n={len(latency)}  p50={q[49]:.1f} s  p95={q[94]:.1f} s  "
            f"max={max(latency):.1f} s  min={min(latency):.1f} s"
        )
    longest = max(ticks, key=lambda f: f.wall)
    print(
        f"  longest tick {longest.wall:.2f} s ({longest.moved} jobs moved); "
        f"most K5 calls in one tick {max(f.calls for f in ticks)}, "
        f"for one project {max(f.max_project_calls for f in ticks)}"
    )


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def mib(value: int) -> str:
    return f"{value / 2**20:.1f} MiB"


if __name__ == "__main__":
    raise SystemExit(main())
