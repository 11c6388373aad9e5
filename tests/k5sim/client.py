"""A thin `requests` client for the simulator tests (the demo scenario's ids are in
tests/support/demo.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from tests.support.demo import DEMO_PASSWORD
from tests.support.simulator import Simulator


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
