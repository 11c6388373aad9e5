"""A thin `requests` client for the simulator tests, and the demo scenario's fixed ids."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.simulator import DEMO_PASSWORD, Simulator

PROJECT_1 = "aaaa0000000000000000000000000001"
PROJECT_2 = "aaaa0000000000000000000000000002"
DOMAIN_ID = "dddd0000000000000000000000000001"
DEMO_USER_ID = "eeee0000000000000000000000000001"
LOCK_USER_ID = "eeee0000000000000000000000000002"
LOCK_PASSWORD = "lock-password"


DEMO_SCENARIO = Path(__file__).resolve().parents[2] / "k5sim" / "demo.json"


def demo_scenario() -> dict:
    """The built-in scenario as a dict, to modify and pass to `reset(scenario=...)`."""
    return json.loads(DEMO_SCENARIO.read_text())


def vol(n: int) -> str:
    return f"10000000-0000-4000-8000-{n:012d}"


def srv(n: int) -> str:
    return f"20000000-0000-4000-8000-{n:012d}"


def img(n: int) -> str:
    return f"30000000-0000-4000-8000-{n:012d}"


CENTOS_WEB = vol(1)  # available, 30 GB, jp-east-1a, CentOS
UBUNTU_APP = vol(2)  # available, 20 GB, jp-east-1a, Ubuntu
RHEL_DB = vol(3)  # available, 80 GB, jp-east-1b, RHEL
WIN_AD = vol(4)  # available, 100 GB, jp-east-1b, Windows
CENTOS_BATCH = vol(5)  # in-use on batch-01 (SHUTOFF), 40 GB, jp-east-1a
UBUNTU_FRONT = vol(6)  # in-use on front-01 (ACTIVE), 50 GB, jp-east-1b
CENTOS_BROKEN = vol(7)  # error
RHEL_ARCHIVE = vol(8)  # uploading (image img(8)), 400 GB, jp-east-1b
DATA_SMALL = vol(9)  # available, 1 GB, no image metadata, jp-east-1a
DATA_LARGE = vol(10)  # available, 500 GB, no image metadata, jp-east-1b
P2_CENTOS = vol(21)  # demo-project-2
P2_DATA = vol(23)  # demo-project-2, no volume type


def password_auth(user: dict, scope: dict | None = None) -> dict:
    auth: dict = {"identity": {"methods": ["password"], "password": {"user": user}}}
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def demo_user(password: str = DEMO_PASSWORD) -> dict:
    return {"name": "demo-user", "domain": {"name": "demo"}, "password": password}


def project_scope(name: str = "demo-project-1") -> dict:
    return {"project": {"name": name, "domain": {"name": "demo"}}}


@dataclass
class Api:
    """A project-scoped session against a running simulator."""

    sim: Simulator
    token: str
    project_id: str
    body: dict
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def base(self) -> str:
        return self.sim.base_url

    def volumes_url(self, version: int = 2, project_id: str | None = None) -> str:
        return f"{self.base}/blockstorage/v{version}/{project_id or self.project_id}/volumes"

    def compute_url(self) -> str:
        return f"{self.base}/compute/v2/{self.project_id}"

    def images_url(self) -> str:
        return f"{self.base}/image/v2/images"

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        headers = {"X-Auth-Token": self.token, **kwargs.pop("headers", {})}
        return self.http.request(method, url, headers=headers, timeout=30, **kwargs)

    def get(self, url: str, **kwargs) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def volume(self, volume_id: str, version: int = 2) -> requests.Response:
        return self.get(f"{self.volumes_url(version)}/{volume_id}")

    def image(self, image_id: str) -> requests.Response:
        return self.get(f"{self.images_url()}/{image_id}")

    def upload(
        self, volume_id: str, version: int = 2, headers: dict | None = None, **params
    ) -> requests.Response:
        params.setdefault("image_name", f"image-of-{volume_id[-4:]}")
        return self.request(
            "POST",
            f"{self.volumes_url(version)}/{volume_id}/action",
            json={"os-volume_upload_image": params},
            headers=headers or {},
        )

    def action(self, volume_id: str, body, version: int = 2, **kwargs) -> requests.Response:
        return self.request(
            "POST", f"{self.volumes_url(version)}/{volume_id}/action", json=body, **kwargs
        )


def authenticate(sim: Simulator, body: dict) -> requests.Response:
    return requests.post(f"{sim.auth_url}/auth/tokens", json=body, timeout=30)


def login(sim: Simulator, project: str = "demo-project-1") -> Api:
    response = authenticate(sim, password_auth(demo_user(), project_scope(project)))
    assert response.status_code == 201, response.text
    body = response.json()
    return Api(
        sim=sim,
        token=response.headers["X-Subject-Token"],
        project_id=body["token"]["project"]["id"],
        body=body,
    )
