"""The two pages people wait on most: the volume picker of a project with 500 volumes (its
inventory warm, as the `refresh_inventory` worker task leaves it) and the jobs list with 10,000
jobs — time per request (p50/p95) and database queries per request, each at a small and a
large size, so that "queries constant" shows as two equal numbers.

    .venv/bin/python benchmarks/pages.py [--volumes 500] [--jobs 10000] [--requests 60]
        [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--json PATH]

Rendered in this process by Django's test client (the whole middleware stack, templates,
PostgreSQL; no web server), DEBUG off. Goal (tracker issue 10): p95 <= 150 ms, constant queries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from harness import (
    analyze,
    machine,
    print_table,
    quantile,
    set_up_django,
    throwaway_database,
    write_json,
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volumes", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--profile", action="store_true", help="print pyinstrument's profile of each page"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="pages-") as tmp,
        throwaway_database(args.database_url) as database_url,
    ):
        os.environ.pop("REDIS_URL", None)
        set_up_django(
            {
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "DATABASE_URL": database_url,
                "DJANGO_DEBUG": "false",
                "LOG_LEVEL": "WARNING",
                "PORTAL_VAR_DIR": tmp,
                "ALLOWED_HOSTS": "testserver,127.0.0.1",
            }
        )
        from imaging.engine import connections
        from tests.support.simulator import start_simulator

        sim = start_simulator()
        try:
            rows = run(args, sim)
        finally:
            connections.forget_clients()
            sim.stop()
    print_table(
        "Pages, rendered with the whole middleware stack on PostgreSQL (goal: p95 <= 150 ms, "
        "queries constant)",
        ["page", "size", "p50 ms", "p95 ms", "queries/request"],
        [[r["page"], r["size"], r["p50_ms"], r["p95_ms"], r["queries"]] for r in rows],
    )
    write_json("pages", {"machine": machine(), "rows": rows}, args.json)
    return 0


def run(args, sim) -> list[dict]:
    from django.contrib.auth.models import User
    from django.test import Client

    from imaging.engine import inventory
    from imaging.models import K5Project, Membership, Role
    from tests.support.demo import DEMO_CONTRACT, DEMO_PASSWORD, DEMO_USER, ZONE_SERVERS, ZONES

    user = User.objects.create_user("bob")
    projects = {}
    for name, volumes in (("demo-project-1", 50), ("demo-project-2", args.volumes)):
        project = K5Project(
            name=name,
            region="jp-east-1",
            identity_url=sim.auth_url,
            contract=DEMO_CONTRACT,
            k5_project_id=sim.project_id(name),
            username=DEMO_USER,
            availability_zones_override=list(ZONES),
            sync_server_zones=dict(ZONE_SERVERS),
        )
        project.set_password(DEMO_PASSWORD)
        project.save()
        Membership.objects.create(user=user, project=project, role=Role.MEMBER)
        present = len(
            [v for v in sim.state()["volumes"] if v["project_id"] == project.k5_project_id]
        )
        sim.control(
            "POST",
            f"projects/{project.k5_project_id}/volumes",
            json={"count": volumes - present, "os": "centos"},
        )
        inventory.refresh_inventory(project)  # warm: what the worker task leaves
        projects[volumes] = project

    client = Client()
    client.force_login(user)
    rows = []
    for volumes, project in sorted(projects.items()):
        rows.append(
            measure(args, client, f"/projects/{project.pk}/volumes/", "volume picker", volumes)
        )
    small = add_jobs(projects[50], user, 100, start=0)
    rows.append(measure(args, client, "/jobs/", "jobs list", small))
    large = add_jobs(projects[50], user, args.jobs - small, start=small) + small
    rows.append(measure(args, client, "/jobs/", "jobs list", large))
    return rows


def add_jobs(project, user, count: int, *, start: int) -> int:
    from imaging.models import ImageJob, JobState

    states = [JobState.SUCCEEDED] * 6 + [JobState.QUEUED, JobState.UPLOADING, JobState.FAILED]
    ImageJob.objects.bulk_create(
        [
            ImageJob(
                project=project,
                volume_id=f"bench-{start + n:05d}",
                volume_size_gb=10 + n % 50,
                image_name=f"image-{start + n:05d}",
                preparation_confirmed="linux-network-settings-removed",
                requested_by=user,
                requested_by_name=user.username,
                state=states[n % len(states)],
                expected_seconds=300,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    analyze()
    return count


def measure(args, client, path: str, page: str, size: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm: templates compiled, connections open
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    times = []
    for _ in range(args.requests):
        began = time.perf_counter()
        client.get(path)
        times.append(time.perf_counter() - began)
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    if args.profile:
        from pyinstrument import Profiler

        with Profiler() as profiler:
            client.get(path)
        print(f"--- {page}, {size}")
        profiler.print(show_all=False)
    return {
        "page": page,
        "size": size,
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": round(quantile(times, 0.95) * 1000, 1),
        "queries": len(queries),
    }


if __name__ == "__main__":
    raise SystemExit(main())
