"""deploy/docker-entrypoint.sh, run directly (this machine has a docker client but no engine):
against a SQLite file it checks, migrates, starts gunicorn for real, and hands worker and
other commands on; ENTRYPOINT_DRY_RUN=true prints the final command instead of running it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A laptop environment on a fresh SQLite file, with no Redis."""
    base = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "REDIS_CACHE_URL", "DJANGO_SETTINGS_MODULE")
    }
    return {
        **base,
        "PATH": f"{Path(sys.executable).parent}:{base['PATH']}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "DB_WAIT_SECONDS": "10",
    }


def entrypoint(env: dict, *args: str, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ENTRYPOINT), *args],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_check_fails_until_the_database_is_migrated(env):
    before = entrypoint(env, "check")
    migrated = entrypoint(env, "migrate")
    after = entrypoint(env, "check")

    assert before.returncode == 1
    assert "the database lacks migrations of this release" in before.stderr
    assert "imaging.0001_initial" in before.stderr
    assert migrated.returncode == 0, migrated.stderr
    assert after.returncode == 0, after.stderr
    assert "checks passed; the database is migrated" in after.stderr


def test_web_migrates_when_asked_and_starts_gunicorn(env):
    started = entrypoint(
        env, "web", ENTRYPOINT_DRY_RUN="true", MIGRATE_ON_START="true", PORT="9001"
    )

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == "gunicorn -c portal/gunicorn.py portal.wsgi"
    assert entrypoint(env, "check").returncode == 0  # migrated on the way


def test_web_serves_the_portal(env, tmp_path):
    assert entrypoint(env, "migrate").returncode == 0
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    web = subprocess.Popen(
        [str(ENTRYPOINT), "web"],
        env={
            **env,
            "PORT": str(port),
            "WEB_WORKERS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "LOG_LEVEL": "DEBUG",  # probes are logged at DEBUG
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and time.monotonic() < deadline and web.poll() is None:
            try:
                answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except OSError:
                time.sleep(0.3)
        assert answer is not None, "gunicorn did not answer"
        assert answer.status == 200 and answer.headers["X-Request-ID"]
        assert metrics_dir.is_dir()
        time.sleep(0.5)  # the portal's request line reaches the log
    finally:
        web.send_signal(signal.SIGTERM)  # gunicorn itself: the script exec'd it
        output, _ = web.communicate(timeout=60)
    assert web.returncode == 0, output
    assert "Shutting down: Master" in output
    assert f"Listening at: http://0.0.0.0:{port}" in output
    # one line per request, the portal's own (with its request id), not gunicorn's as well
    assert "GET /healthz 200 [request_id=" in output, output
    assert "GET /healthz HTTP/1.1" not in output


def test_worker_starts_the_cluster(env):
    started = entrypoint(env, "worker", ENTRYPOINT_DRY_RUN="true")

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "python manage.py qcluster"


def test_other_commands_are_handed_on(env):
    manage = entrypoint(env, "manage", "prune", "--help")
    anything = entrypoint(env, "echo", "hello", "from", "the", "container")

    assert manage.returncode == 0 and "--before BEFORE" in manage.stdout
    assert anything.stdout == "hello from the container\n"


def test_it_gives_up_when_the_database_never_answers(env):
    began = time.monotonic()
    result = entrypoint(
        env,
        "migrate",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/portal",
        DB_WAIT_SECONDS="2",
    )

    assert result.returncode == 1
    assert "the database did not answer within 2 s" in result.stderr
    assert "Connection refused" in result.stderr  # the last error, for the operator
    assert time.monotonic() - began < 60
