"""A tool's view of the API: a client sending one API token, the body of a job request that
passes every rule, and the one error shape every /api/ error has."""

from __future__ import annotations

import json

from django.test import Client

from imaging.models import K5Project
from tests.support.demo import CENTOS_WEB


class Api:
    """A tool calling the API with one token, as `requests` would: JSON in, JSON out."""

    def __init__(self, key: str | None = None):
        self.key = key
        self.client = Client()
        self.headers = {"Authorization": f"Token {key}"} if key else {}

    def get(self, path: str, params: dict | None = None, headers: dict | None = None):
        return self.client.get(path, params or {}, headers={**self.headers, **(headers or {})})

    def post(self, path: str, body: dict | None = None, headers: dict | None = None):
        return self.client.post(
            path,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            headers={**self.headers, **(headers or {})},
        )

    def request(self, method: str, path: str, **extra):
        return self.client.generic(
            method, path, headers={**self.headers, **extra.pop("headers", {})}, **extra
        )


def job_body(
    project: K5Project, volume_id: str = CENTOS_WEB, image_name: str = "web-golden", **options
) -> dict:
    """A POST /api/v1/jobs/ body that passes every rule for an available Linux volume."""
    return {
        "project": project.pk,
        "volume_id": volume_id,
        "image_name": image_name,
        "preparation_confirmed": True,
        **options,
    }


def error_of(response) -> dict:
    """The JSON error body every /api/ error has; fails the test if the shape is wrong."""
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]
