"""The jobs API under 20 concurrent clients, against a bare DRF endpoint measured in the same
run on the same server: throughput and p95 of `GET /api/v1/jobs/` (a page of 50 of 10,000 jobs)
and `POST /api/v1/jobs/`, each as a ratio to `/bench/bare/` — a DRF view with the API's
authentication, permission and throttle that answers a constant to a GET, and parses the body
and answers 201 to a POST. Goal: <= 2.5x.

    .venv/bin/python benchmarks/api_throughput.py [--clients 20] [--requests 600]
        [--jobs 10000] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
        [--redis-url redis://127.0.0.1:6379/13] [--json PATH]

gunicorn as in production (portal/gunicorn.py: 2 processes x 8 threads), PostgreSQL (a
throwaway database), Redis for the throttle's counters and the task queue, the simulator (no
added latency) for the submission checks a POST makes. Everything runs on this machine: the
clients are threads of this process, and so the CPU each request costs is also shown by who
spent it (the portal, the K5 simulator, PostgreSQL, Redis, the clients), read from /proc.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import requests
from harness import (
    analyze,
    machine,
    print_table,
    quantile,
    set_up_django,
    throwaway_database,
    usage_of,
    write_json,
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=600, help="per endpoint")
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--json", default=None)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="api-") as tmp,
        throwaway_database(args.database_url) as database_url,
    ):
        env = {
            "DJANGO_SETTINGS_MODULE": "benchmarks.web.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis_url,
            "Q_CLUSTER_NAME": f"api-bench-{os.getpid()}",
            "API_THROTTLE_RATE": "1000000/min",
            "DJANGO_DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "PORTAL_VAR_DIR": tmp,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        set_up_django(env)
        from imaging.engine import connections
        from tests.support.simulator import start_simulator
        from tests.support.web_server import start_gunicorn

        sim = start_simulator()
        try:
            key, bodies, plain_bodies = prepare(args, sim)
            server, url = start_gunicorn(env, Path(tmp) / "gunicorn.log")
            spenders = {
                "portal": lambda pid, group, name: group == server.pid,
                "K5 sim": lambda pid, group, name: pid == sim.process.pid,
                "PostgreSQL": lambda pid, group, name: name == "postgres",
                "Redis": lambda pid, group, name: name == "redis-server",
            }
            try:
                rows = measure_all(args, url, key, bodies, plain_bodies, spenders)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
        finally:
            connections.forget_clients()
            sim.stop()
    table = []
    for row in rows:
        bare = next(r for r in rows if r["endpoint"] == row["baseline"])
        table.append(
            [
                row["endpoint"],
                row["requests"],
                dict(row["statuses"]),
                round(row["throughput"], 1),
                row["p50_ms"],
                row["p95_ms"],
                f"{row['p95_ms'] / bare['p95_ms']:.2f}x",
                f"{bare['throughput'] / row['throughput']:.2f}x",
                " / ".join(f"{ms:.1f}" for ms in row["cpu_ms_per_request"].values()),
            ]
        )
    print_table(
        f"{args.clients} concurrent clients, gunicorn (2 x 8 threads) + PostgreSQL "
        "(goal: each endpoint <= 2.5x the bare DRF endpoint of its method)",
        [
            "endpoint",
            "requests",
            "statuses",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p95 / bare",
            "bare / req/s",
            "CPU ms per request: " + " / ".join(rows[0]["cpu_ms_per_request"]),
        ],
        table,
    )
    write_json("api_throughput", {"machine": machine(), "rows": rows}, args.json)
    return 0


def prepare(args, sim) -> tuple[str, list[dict], list[dict]]:
    """The API token, the bodies of the API's POSTs (each a volume of its own in the
    simulator) and of DRF's generic create's (in a project of their own: the API's queue is
    not lengthened by them)."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from imaging.models import ApiToken, ImageJob, JobState, K5Project, Membership, Role
    from tests.support.cast import bound_project
    from tests.support.demo import DEMO_CONTRACT

    project = bound_project(sim, "demo-project-1")
    user = User.objects.create_user("bob")
    Membership.objects.create(user=user, project=project, role=Role.MEMBER)
    _, key = ApiToken.issue(user, "benchmark")
    states = [JobState.SUCCEEDED] * 6 + [JobState.QUEUED, JobState.UPLOADING, JobState.FAILED]
    now = timezone.now()

    def earlier(n: int) -> ImageJob:
        """A job of the project's history, one a minute, as the engine leaves it."""
        state = states[n % len(states)]
        created = now - timedelta(minutes=args.jobs - n)
        times = {}
        if state != JobState.QUEUED:
            times["submitted_at"] = created + timedelta(minutes=1)
        if state in (JobState.SUCCEEDED, JobState.FAILED):
            times["upload_finished_at"] = created + timedelta(minutes=5)
            times["finished_at"] = created + timedelta(minutes=15)
        return ImageJob(
            project=project,
            volume_id=f"earlier-{n:05d}",
            volume_size_gb=10,
            image_name=f"earlier-{n:05d}",
            preparation_confirmed="linux-network-settings-removed",
            requested_by=user,
            requested_by_name=user.username,
            state=state,
            created_at=created,
            **times,
        )

    ImageJob.objects.bulk_create([earlier(n) for n in range(args.jobs)], batch_size=1000)
    analyze()
    volumes = sim.control(
        "POST",
        f"projects/{project.k5_project_id}/volumes",
        json={"count": args.requests + 50, "size": 10, "os": "centos"},
    ).json()["ids"]
    bodies = [
        {
            "project": project.pk,
            "volume_id": volume_id,
            "image_name": f"bench-{n:05d}",
            "preparation_confirmed": True,
        }
        for n, volume_id in enumerate(volumes)
    ]
    elsewhere = K5Project.objects.create(
        name="elsewhere", region="jp-east-1", identity_url=sim.auth_url, contract=DEMO_CONTRACT
    )
    plain_bodies = [
        {"project": elsewhere.pk, "volume_id": f"plain-{n:05d}", "image_name": f"plain-{n:05d}"}
        for n in range(args.requests * 2)
    ]
    return key, bodies, plain_bodies


def measure_all(
    args, base: str, key: str, bodies: list[dict], plain_bodies: list[dict], spenders: dict
) -> list[dict]:
    headers = {"Authorization": f"Token {key}"}
    posts, plain_posts = iter(bodies), iter(plain_bodies)
    lock = threading.Lock()

    def next_body():
        with lock:
            return next(posts)

    def next_plain_body():
        with lock:
            return next(plain_posts)

    def same_body():  # the bare endpoint does nothing with it
        return bodies[0]

    bare_get, bare_post = "GET /bench/bare/ (before)", "POST /bench/bare/ (before)"
    plan = [
        (bare_get, bare_get, "GET", "/bench/bare/", None),
        ("GET /bench/drf-jobs/", bare_get, "GET", "/bench/drf-jobs/", None),
        ("GET /api/v1/jobs/", bare_get, "GET", "/api/v1/jobs/", None),
        (bare_post, bare_post, "POST", "/bench/bare/", same_body),
        ("POST /bench/drf-jobs/", bare_post, "POST", "/bench/drf-jobs/", next_plain_body),
        ("POST /api/v1/jobs/", bare_post, "POST", "/api/v1/jobs/", next_body),
        ("GET /bench/bare/ (after)", bare_get, "GET", "/bench/bare/", None),
        ("POST /bench/bare/ (after)", bare_post, "POST", "/bench/bare/", same_body),
    ]
    load(args, base, headers, "GET", "/bench/bare/", None, 100)  # warm every thread
    load(args, base, headers, "GET", "/api/v1/jobs/", None, 40)
    rows = []
    for label, baseline, method, path, body in plan:
        before = spent(spenders)
        times, statuses, wall = load(args, base, headers, method, path, body, args.requests)
        after = spent(spenders)
        rows.append(
            {
                "endpoint": label,
                "baseline": baseline,
                "requests": len(times),
                "statuses": sorted(statuses.items()),
                "throughput": len(times) / wall,
                "p50_ms": round(statistics.median(times) * 1000, 1),
                "p95_ms": round(quantile(times, 0.95) * 1000, 1),
                "cpu_ms_per_request": {
                    who: round((after[who] - before[who]) / len(times) * 1000, 2) for who in after
                },
            }
        )
        print(rows[-1], flush=True)
    return rows


def spent(spenders: dict) -> dict[str, float]:
    """CPU seconds so far of each part of the set-up, and of this process (the clients)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        **{who: usage_of(chosen).cpu for who, chosen in spenders.items()},
        "clients": own.ru_utime + own.ru_stime,
    }


def load(args, base, headers, method, path, body, total):
    """`total` requests from `args.clients` threads at once; (latencies, statuses, wall)."""
    remaining = [total]
    lock = threading.Lock()
    times: list[float] = []
    statuses: Counter = Counter()

    def client():
        session = requests.Session()
        session.headers.update(headers)
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            payload = body() if body else None
            began = time.perf_counter()
            response = session.request(method, base + path, json=payload, timeout=60)
            elapsed = time.perf_counter() - began
            with lock:
                times.append(elapsed)
                statuses[response.status_code] += 1

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, statuses, time.perf_counter() - began


if __name__ == "__main__":
    raise SystemExit(main())
