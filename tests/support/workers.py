"""Real django-q2 clusters for end-to-end tests.

Each `Cluster` is a `python manage.py qcluster` process in its own process group (its worker
children die with it), on the test database pytest-django created and on the test process's
broker, under a queue name unique to the test session: a Redis list left over from another run
(or another engineer's run on the same Redis) is never read. Its output goes to a log file
under `test-artifacts/e2e/`; the tail of every log is printed when a test fails.

Registered as a plugin (tests/conftest.py): the fixtures `queue_name` and `workers`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.simulator import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "e2e"

# Engine timings shrunk for tests. The simulator's speed factor shrinks K5's side to match.
ENGINE_ENV = {
    "ENGINE_TICK_SECONDS": "0.5",
    # One scheduled ticker loop: short, so that tests enqueue the next one (the scheduler of
    # django-q2 fires only every ~30 s) and a killed cluster strands the lease briefly.
    "ENGINE_TICKER_SECONDS": "3",
    "ENGINE_SYNC_SETTLE_BASE_SECONDS": "1",
    "ENGINE_SYNC_SETTLE_SECONDS_PER_GB": "0",
    # Must exceed the longest a sent upload can take to be answered: a sign-in plus the POST,
    # each at most connect + read timeout.
    "ENGINE_SUBMIT_GRACE_SECONDS": "6",
    "ENGINE_UNAVAILABLE_BACKOFF_SECONDS": "1",
    "K5_CONNECT_TIMEOUT": "1",
    "K5_READ_TIMEOUT": "2",
    "Q_ORM_POLL": "0.1",
    "Q_WORKERS": "2",
    "LOG_LEVEL": "INFO",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "PYTHONUNBUFFERED": "1",
}
READY = re.compile(r"Q Cluster \S+ \[[^\]]*\] running")


def database_url() -> str:
    """The URL of the database this test process uses — pytest-django's test database."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if connection.vendor != "postgresql":
        raise RuntimeError(f"no e2e workers for {connection.vendor}")
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(db['NAME'], safe='')}"


@dataclass
class Cluster:
    label: str
    process: subprocess.Popen
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def processed(self, func: str) -> int:
        """How many tasks running `func` this cluster's workers took up (from its log)."""
        return len(re.findall(rf" processing \S+ '{re.escape(func)}'", self.log()))

    def kill(self) -> None:
        """SIGKILL the whole cluster at once: sentinel, pusher, workers, monitor."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM: django-q2 stops taking tasks (it may still run the few it prefetched)."""
        if self.alive:
            self._signal_group(signal.SIGTERM)

    def stop(self, deadline: float) -> None:
        """Wait until `deadline` (monotonic) for a terminated cluster to exit, then SIGKILL
        whatever is left of its group, even if the sentinel itself is gone."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)  # own session: group id == pid


@dataclass
class Workers:
    """Start, kill and stop qclusters for one test; enqueue tasks they will run."""

    queue_name: str
    test_name: str
    clusters: list[Cluster] = field(default_factory=list)

    def start(
        self,
        label: str | None = None,
        *,
        env: dict[str, str] | None = None,
        ready_timeout: float = 60,
    ) -> Cluster:
        label = label or f"cluster-{len(self.clusters) + 1}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        log_path = ARTIFACTS / f"{_slug(self.test_name)}.{label}.log"
        environment = {
            **os.environ,
            **ENGINE_ENV,
            "DATABASE_URL": database_url(),
            "Q_CLUSTER_NAME": self.queue_name,
            **(env or {}),
        }
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        cluster = Cluster(label, process, log_path)
        self.clusters.append(cluster)
        deadline = time.monotonic() + ready_timeout
        while not READY.search(cluster.log()):
            if not cluster.alive:
                raise RuntimeError(f"qcluster {label} exited:\n{cluster.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"qcluster {label} not running after {ready_timeout} s:\n{cluster.tail()}"
                )
            time.sleep(0.1)
        return cluster

    def enqueue(self, func: str, *args) -> None:
        """Queue a task by dotted name, as the engine's own code does (after a commit)."""
        from django_q.tasks import async_task

        async_task(func, *args, q_options={"group": func.rsplit(".", 1)[-1]})

    def ticker(self, every: float = 1.0) -> Callable[[], None]:
        """A kick that enqueues the real `imaging.tasks.run_ticker` at most every `every`
        seconds: django-q2's scheduler would start it only every ~30 s. A second ticker
        while one runs returns at once (the cluster-wide lease)."""
        last = [0.0]

        def kick() -> None:
            if time.monotonic() - last[0] >= every:
                last[0] = time.monotonic()
                self.enqueue("imaging.tasks.run_ticker")

        return kick

    def stop_all(self, grace: float = 1.0) -> None:
        for cluster in self.clusters:
            cluster.terminate()
        deadline = time.monotonic() + grace
        for cluster in self.clusters:
            cluster.stop(deadline)

    def tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"----- qcluster {c.label} ({c.log_path}) -----\n{c.tail(lines)}" for c in self.clusters
        )


def wait_for(
    condition: Callable[[], object],
    *,
    timeout: float,
    what: str,
    kick: Callable[[], None] | None = None,
    every: float = 0.2,
):
    """Poll `condition` until it is truthy (returned), calling `kick` before each look."""
    deadline = time.monotonic() + timeout
    while True:
        if kick is not None:
            kick()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:120]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)  # the workers fixture prints logs on failure
    return report


@pytest.fixture(scope="session")
def queue_name():
    """A django-q2 queue (cluster) name for this session, used by the test process too.

    django-q2 reads its configuration once, at import, so the test process's name is set on
    its Conf; the qclusters get it through Q_CLUSTER_NAME. PREFIX is also the salt of the
    signed task payloads, so both sides must agree on it.
    """
    from django_q.conf import Conf

    name = f"e2e-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Conf, "PREFIX", name)
        patch.setattr(Conf, "CLUSTER_NAME", name)
        yield name


@pytest.fixture
def workers(request, transactional_db, queue_name):
    """qclusters for this test, stopped at teardown whatever happened — before pytest-django
    empties the database they use. On failure their log tails are printed."""
    from django_q.brokers import get_broker

    pool = Workers(queue_name=queue_name, test_name=request.node.name)
    try:
        yield pool
    finally:
        pool.stop_all()
        report = getattr(request.node, "rep_call", None)
        if pool.clusters and (report is None or not report.passed):
            print(f"\nworker logs (full files under {ARTIFACTS}):\n{pool.tails()}")
        get_broker().purge_queue()  # nothing left over for the next test's clusters
