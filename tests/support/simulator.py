"""Start the K5 simulator as a real separate process and talk to its control interface.

Tests that cross the K5 facade use this: the portal speaks HTTP to a live `python -m k5sim`,
never to patched functions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[2]

DEMO_REGION = "jp-east-1"
DEMO_CONTRACT = "demo"
DEMO_USER = "demo-user"
DEMO_PASSWORD = "demo-password"
DEMO_PROJECTS = ("demo-project-1", "demo-project-2")


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
