"""Start the K5 simulator as a real separate process and talk to its control interface.

Tests that cross the K5 facade use this: the portal speaks HTTP to a live `python -m k5sim`,
never to patched functions. Registered as a plugin (tests/conftest.py): `k5sim` is the one
simulator of the test session, reset to the demo scenario for each test that asks for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.demo import demo_scenario

ROOT = Path(__file__).resolve().parents[2]

# Endpoints as the request log names them (`Simulator.requests_to`).
UPLOAD_ACTION = "POST /blockstorage/v2/{project_id}/volumes/{volume_id}/action"
TOKEN_REQUEST = "POST /identity/v3/auth/tokens"


@dataclass
class Simulator:
    """A running simulator process and a small client for its `/_sim/` control interface."""

    auth_url: str
    process: subprocess.Popen
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def base_url(self) -> str:
        parts = urlsplit(self.auth_url)
        return f"{parts.scheme}://{parts.netloc}"

    def control(self, method: str, path: str, json=None) -> requests.Response:
        response = self.http.request(
            method, f"{self.base_url}/_sim/{path.lstrip('/')}", json=json, timeout=30
        )
        response.raise_for_status()
        return response

    def reset(self, **options) -> None:
        self.control("POST", "reset", json=options)

    def speed_up(self, speed: int) -> None:
        """Reset to the demo scenario with K5 running `speed` times faster than real.

        Token life is scaled back up to 3 real hours: at a high speed a 3 h token would last
        less than the facade's 5-minute refresh margin, and every call would become a sign-in.
        """
        scenario = demo_scenario()
        scenario["settings"]["token_seconds"] = 3 * 3600 * speed
        self.reset(speed=speed, scenario=scenario)

    def state(self) -> dict:
        return self.control("GET", "state").json()

    def advance(self, seconds: float) -> None:
        """Move K5 time forward (in K5 seconds, i.e. before the speed factor)."""
        self.control("POST", "clock/advance", json={"seconds": seconds})

    def add_fault(self, **fault) -> str:
        return self.control("POST", "faults", json=fault).json()["id"]

    def request_counts(self) -> dict[str, int]:
        return self.control("GET", "requests/counts").json()

    def requests_log(self) -> list[dict]:
        return self.control("GET", "requests").json()["requests"]

    def clear_requests(self) -> None:
        self.control("DELETE", "requests")

    def logged(self, method: str, path: str) -> list[dict]:
        """The log entries for exactly this method and path (query excluded)."""
        return [
            entry
            for entry in self.requests_log()
            if entry["method"] == method and entry["path"].split("?")[0] == path
        ]

    def requests_to(self, endpoint: str) -> list[dict]:
        """The log entries for one endpoint, e.g. "POST /identity/v3/auth/tokens" (a path
        template), in arrival order."""
        method, template = endpoint.split(" ", 1)
        return sorted(
            (e for e in self.requests_log() if (e["method"], e["template"]) == (method, template)),
            key=lambda e: e["received_at"],
        )

    def images_named(self, name: str) -> list[dict]:
        return [i for i in self.state()["images"] if i["name"] == name]

    def volume(self, volume_id: str) -> dict:
        return next(v for v in self.state()["volumes"] if v["id"] == volume_id)

    def project_id(self, name: str) -> str:
        for project in self.state()["projects"]:
            if project["name"] == name:
                return project["id"]
        raise KeyError(name)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_simulator(*args: str) -> Simulator:
    """Run `python -m k5sim` on a free loopback port; its first output line is the auth URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "k5sim", "--host", "127.0.0.1", "--port", "0", "--quiet", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    first_line: list[str] = []
    reader = threading.Thread(
        target=lambda: first_line.append(process.stdout.readline()), daemon=True
    )
    reader.start()
    reader.join(timeout=30)
    if not first_line or not first_line[0].startswith("http"):
        process.kill()
        raise RuntimeError(f"k5sim did not print its auth URL: {first_line!r}")
    return Simulator(auth_url=first_line[0].strip(), process=process)


@pytest.fixture(scope="session")
def k5sim_process():
    simulator = start_simulator()
    yield simulator
    simulator.stop()


@pytest.fixture
def k5sim(k5sim_process):
    """The shared simulator, reset to the demo scenario (speed 1, no faults) for this test."""
    k5sim_process.reset()
    return k5sim_process
