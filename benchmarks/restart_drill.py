"""PostgreSQL or Redis restarted while two clusters carry jobs: the fault-matrix rows that need
real servers. Both are throwaway servers of this run, on free ports — a PostgreSQL cluster made
with pg_createcluster and dropped at the end, a redis-server without persistence (a restart
loses its queue, as a Redis without AOF does) — never the shared 5432/6379 servers.

    .venv/bin/python benchmarks/restart_drill.py --restart postgres|redis [--jobs 4] [--json PATH]

Prints one JSON object: each job's end state and message, the K5 calls the run cost, and
whether every job succeeded with one upload call per volume (exit status 0) or not (1).
tests/e2e/test_restarts.py runs it for both servers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from harness import Clusters, set_up_django

from tests.support.web_server import free_port
from tests.support.workers import ENGINE_ENV

PG_VERSION = "15"
CREATE = ["pg_createcluster", PG_VERSION]
CONTROL = ["pg_ctlcluster", PG_VERSION]
REDIS = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
# The end-to-end tests' shrunk engine timings, and a short ticker lease and watchdog: a
# restart must not leave the engine without a ticker for long.
ENGINE = {**ENGINE_ENV, "ENGINE_TICKER_LEASE_SECONDS": "3", "ENGINE_WATCHDOG_SECONDS": "1"}
SPEED = 600
UPLOAD = "/blockstorage/v2/{project_id}/volumes/{volume_id}/action"


def available() -> str:
    """Why this drill cannot run here, or "" if it can."""
    for tool in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "redis-server"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return ""


class Postgres:
    def __init__(self) -> None:
        self.name = f"scale-drill-{os.getpid()}"
        self.port = free_port()
        subprocess.run(
            [*CREATE, self.name, "-p", str(self.port), "--start", "--", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def restart(self) -> None:
        subprocess.run(
            ["pg_ctlcluster", PG_VERSION, self.name, "restart", "-m", "fast"], check=True
        )

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", PG_VERSION, self.name, "--stop"], check=False, capture_output=True
        )


class Redis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = self._start()

    def _start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [*REDIS, "--port", str(self.port), "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return process
            time.sleep(0.1)
        raise SystemExit("redis-server did not start")

    def restart(self) -> None:
        """Killed, and a new one on the same port a moment later: its queue is gone."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        time.sleep(1)
        self.process = self._start()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restart", choices=["postgres", "redis"], required=True)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if why := available():
        print(json.dumps({"skipped": why}))
        return 0
    with tempfile.TemporaryDirectory(prefix="restart-drill-") as tmp:
        postgres = Postgres()
        redis = Redis(Path(tmp))
        try:
            result = drill(args, postgres, redis, Path(tmp))
        finally:
            redis.stop()
            postgres.drop()
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


def drill(args, postgres: Postgres, redis: Redis, tmp: Path) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url,
        "Q_CLUSTER_NAME": f"restart-drill-{os.getpid()}",
        "DJANGO_DEBUG": "false",
        "PORTAL_VAR_DIR": str(tmp),
        **ENGINE,
        "LOG_LEVEL": "WARNING",  # this process's own; the clusters log at INFO
    }
    set_up_django(env)
    from django.contrib.auth.models import User

    from imaging.engine import connections
    from imaging.engine.submission import submit_job
    from imaging.engine.validation import Submission
    from imaging.models import ImageJob, JobState, Membership, Role
    from tests.support.cast import bound_project
    from tests.support.demo import CENTOS_WEB, RHEL_DB, UBUNTU_APP, WIN_AD
    from tests.support.simulator import start_simulator

    sim = start_simulator()
    clusters = Clusters(env, tmp)
    try:
        sim.speed_up(SPEED)
        project = bound_project(sim, "demo-project-1", upload_window_seconds=3600 // SPEED)
        bob = User.objects.create_user("bob")
        Membership.objects.create(user=bob, project=project, role=Role.MEMBER)
        volumes = [CENTOS_WEB, UBUNTU_APP, RHEL_DB, WIN_AD][: args.jobs]
        sim.clear_requests()
        clusters.start(2)
        job_ids = [
            submit_job(
                Submission(
                    project=project,
                    volume_id=volume,
                    image_name=f"drill-{n}",
                    preparation_confirmed=True,
                ),
                user=bob,
                channel="api",
            )[0].pk
            for n, volume in enumerate(volumes)
        ]
        jobs = ImageJob.objects.filter(pk__in=job_ids)
        wait(lambda: jobs.filter(submitted_at__isnull=False).exists(), 60, "a first upload")
        restarted_at = time.time()
        (postgres if args.restart == "postgres" else redis).restart()
        terminal = [JobState.SUCCEEDED, JobState.FAILED, JobState.SYNC_FAILED, JobState.CANCELLED]
        wait(lambda: not jobs.exclude(state__in=terminal).exists(), 180, "every job to end")
        rows = []
        for job in jobs.order_by("pk"):
            last = job.events.order_by("-id").first()
            rows.append(
                {
                    "volume": job.volume_id,
                    "state": job.state,
                    "message": job.error_message or job.waiting_reason or (last and last.message),
                }
            )
        log = sim.requests_log()
        uploads = Counter(e["path"].split("/")[-2] for e in log if e["template"] == UPLOAD)
        calls = Counter(f"{e['method']} {e['template']}" for e in log)
        ok = all(r["state"] == JobState.SUCCEEDED for r in rows) and set(uploads.values()) == {1}
        return {
            "restart": args.restart,
            "restarted_after_first_upload": True,
            "restarted_at": restarted_at,
            "jobs": rows,
            "upload_calls_per_volume": dict(uploads),
            "k5_calls": dict(calls),
            "ok": ok,
        }
    finally:
        clusters.stop()
        connections.forget_clients()
        sim.stop()


def wait(condition, timeout: float, what: str) -> None:
    """Poll `condition`, riding out the database's own restart (a dropped connection)."""
    from django.db import OperationalError, connections

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OperationalError:
            connections.close_all()
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {what}")


if __name__ == "__main__":
    sys.exit(main())
