"""A throwaway Redis that a test may stop and start again (registered in tests/conftest.py).

The machine's shared Redis (127.0.0.1:6379) serves other test runs and is never stopped here:
`redis_server` is a `redis-server` of the test's own, on a free loopback port, keeping nothing
on disk, stopped at teardown. `redis_everywhere` points the portal's cache and django-q2's
broker at it, whichever set-up the run has (ORM broker or the shared Redis), as REDIS_URL
would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest
import redis

START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    port: int
    executable: str
    process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"redis-server did not start on {self.port}") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture
def redis_server():
    executable = shutil.which("redis-server")
    if executable is None:
        # Every machine of this project has Redis (.ci/run starts it); elsewhere the outage
        # tests are skipped with why — except in CI, as for the browser tests.
        message = "redis-server is not installed: the Redis-outage tests need one."
        if os.environ.get("CI") == "true":
            pytest.fail(message + " CI must run them.", pytrace=False)
        pytest.skip(message)
    server = RedisServer(port=free_port(), executable=executable)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_everywhere(redis_server, settings, monkeypatch) -> RedisServer:
    """The cache (db 1) and the task broker (db 0) on the test's own Redis.

    django-q2 reads its configuration once, at import, so its Conf is set too; and the
    process's broker (imaging.dispatch) is built anew for it."""
    from django_q.conf import Conf

    from imaging import dispatch

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url(1),
            "KEY_PREFIX": "k5portal",
        }
    }
    settings.Q_CLUSTER = {
        **{k: v for k, v in settings.Q_CLUSTER.items() if k not in ("orm", "poll")},
        "redis": redis_server.url(0),
    }
    monkeypatch.setattr(Conf, "REDIS", redis_server.url(0))
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(dispatch, "_brokers", {})
    return redis_server
