"""What the engine benchmarks share: a throwaway PostgreSQL database, real qcluster processes
on it (and on Redis, under a queue name of their own), their CPU and memory read from /proc,
quantiles, a printed table and a JSON file.

Nothing here touches a developer's database or another run's Redis queue: the database is
created for the run and dropped at the end, the queue and cache keys carry the run's name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
READY = re.compile(r"Q Cluster \S+ \[[^\]]*\] running")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SIZES = list(range(1, 11))  # GB: K5 takes 60 s + 12 s per GB


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A database created on the PostgreSQL server for this run, dropped at the end."""
    import psycopg

    parts = urlsplit(server_url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit("--database-url must be a postgres:// URL")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(server_url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def environment(database_url: str, redis_url: str, queue: str, **extra: str) -> dict[str, str]:
    """The settings a benchmark and its clusters share. DEBUG off, as in production."""
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "Q_CLUSTER_NAME": queue,
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def set_up_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # The ticker starts by itself (the watchdog); the minute schedule is not what is measured.
    from django_q.models import Schedule

    Schedule.objects.all().delete()


@dataclass
class Cluster:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Clusters:
    """qcluster processes, each in its own process group (its workers die with it)."""

    env: dict[str, str]
    directory: Path
    clusters: list[Cluster] = field(default_factory=list)

    def start(self, count: int, timeout: float = 120) -> None:
        for n in range(count):
            log_path = self.directory / f"qcluster-{n + 1}.log"
            with log_path.open("w") as log:
                process = subprocess.Popen(
                    [sys.executable, "manage.py", "qcluster"],
                    cwd=ROOT,
                    # INFO: the "Q Cluster ... running" line is how readiness is seen.
                    env={**os.environ, **self.env, "LOG_LEVEL": "INFO"},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.clusters.append(Cluster(process, log_path))
        deadline = time.monotonic() + timeout
        for cluster in self.clusters:
            while not READY.search(cluster.log()):
                if cluster.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"qcluster did not start:\n{cluster.log()[-3000:]}")
                time.sleep(0.2)

    def usage(self) -> Usage:
        """CPU seconds so far and memory of every live process of the clusters."""
        groups = {c.process.pid for c in self.clusters}
        return usage_of(lambda pid, group, name: group in groups)

    def stop(self) -> None:
        for cluster in self.clusters:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cluster.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for cluster in self.clusters:
            with contextlib.suppress(subprocess.TimeoutExpired):
                cluster.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cluster.process.pid, signal.SIGKILL)
            cluster.process.wait(timeout=10)
        self.clusters.clear()


@dataclass
class Usage:
    cpu: float = 0.0  # seconds, every process of the clusters together
    peak_rss: int = 0  # bytes, the largest process's high-water mark
    rss_total: int = 0  # bytes, every process now
    processes: int = 0


def usage_of(chosen: Callable[[int, int, str], bool]) -> Usage:
    """CPU seconds so far and memory of every live process for which `chosen(pid, process
    group, command name)` is true."""
    usage = Usage()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            if not chosen(int(stat.parent.name), int(fields[2]), name):  # fields[2]: group
                continue
            usage.cpu += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # it ended meanwhile
        peak = re.search(r"VmHWM:\s+(\d+) kB", status)
        rss = re.search(r"VmRSS:\s+(\d+) kB", status)
        if peak and rss:
            usage.peak_rss = max(usage.peak_rss, int(peak.group(1)) * 1024)
            usage.rss_total += int(rss.group(1)) * 1024
            usage.processes += 1
    return usage


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def print_table(title: str, headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def write_json(name: str, data: dict, path: str | None = None) -> Path:
    target = Path(path) if path else RESULTS / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print(f"\nwrote {target}")
    return target


def machine() -> dict:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in load],
        "python": sys.version.split()[0],
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def per_project_sizes(projects: int, uploads: int) -> list[list[int]]:
    base, extra = divmod(uploads, projects)
    counter = iter(range(uploads))
    return [
        [SIZES[next(counter) % len(SIZES)] for _ in range(base + (1 if n < extra else 0))]
        for n in range(projects)
    ]


def bind(sim, numbers, sizes, *, upload_limit: int):
    """K5Project rows for the fleet projects `numbers` (the fleet helper's, at an offset)."""
    from tests.support.fleet import bind_projects

    return bind_projects(sim, sizes, upload_limit=upload_limit, numbers=numbers)


def analyze() -> None:
    """The tables as autovacuum leaves them within a minute of a bulk insert (PostgreSQL 13+
    also vacuums insert-only tables): fresh planner statistics — without, PostgreSQL sorted
    all 10,000 jobs for a page of 50 (30 ms instead of 0.3) — and the visibility map, without
    which a count reads every row of the table instead of the index (a page's count of 10,000
    jobs, under EXPLAIN ANALYZE: 4.9 ms instead of 1.9)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
