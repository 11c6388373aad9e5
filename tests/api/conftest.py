"""API tests: named users around two K5 projects bound to the live simulator.

In demo-project-1 ("the project") alice is the admin, bob a member (he requests the jobs),
dana another member and victor a viewer. pat is a member of demo-project-2 only ("the other
project"). charlie belongs to no project, and stella is staff without any membership.

`api(user)` is a client that sends that user's API token (`api(None)`: anonymous). Jobs are
created through the API when the test is about creating them, and as rows (`make_job`) when a
test needs a job in a given state.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from imaging.models import (
    ApiToken,
    EventKind,
    ImageJob,
    JobState,
    K5Project,
    SyncRole,
    ZoneSyncResult,
)
from tests.support.cast import (  # noqa: F401 - fixtures and names the tests use
    CENTOS_BATCH,
    CENTOS_BROKEN,
    CENTOS_WEB,
    DATA_FRONT,
    DATA_SMALL,
    K5_PASSWORD,
    P2_CENTOS,
    RHEL_ARCHIVE,
    RHEL_DB,
    UBUNTU_APP,
    UBUNTU_FRONT,
    WIN_AD,
    WIN_FILE,
    ZONE_B_SERVER,
    ZONES,
    alice,
    bob,
    bound_project,
    charlie,
    dana,
    fast_passwords,
    fresh_clients,
    make_user,
    other_project,
    pat,
    project,
    stella,
    victor,
)

PROJECT_1_VOLUMES = {f"10000000-0000-4000-8000-0000000000{n:02d}" for n in range(1, 13)}
PROJECT_2_VOLUMES = {f"10000000-0000-4000-8000-0000000000{n:02d}" for n in (21, 22, 23)}


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


@pytest.fixture
def api(db) -> Callable[[User | None], Api]:
    """`api(bob)`: a client sending a fresh API token of bob's; `api(None)`: no token."""

    def for_user(user: User | None) -> Api:
        if user is None:
            return Api()
        _token, key = ApiToken.issue(user, "tests")
        return Api(key)

    return for_user


def make_job(
    project: K5Project,
    user: User,
    *,
    volume_id: str = CENTOS_WEB,
    image_name: str = "web-golden",
    state: str = JobState.QUEUED,
    **fields,
) -> ImageJob:
    """A job row as the engine leaves it in `state`, with its zones and one event."""
    now = timezone.now()
    if state not in (JobState.QUEUED,):
        fields.setdefault("submitted_at", now)
    if state in (JobState.SUCCEEDED, JobState.FAILED, JobState.SYNC_FAILED, JobState.CANCELLED):
        fields.setdefault("finished_at", now)
    if state in (JobState.FAILED, JobState.SYNC_FAILED):
        fields.setdefault("error_message", "K5 killed the image.")
    job = ImageJob.objects.create(
        project=project,
        volume_id=volume_id,
        image_name=image_name,
        state=state,
        volume={"id": volume_id, "name": f"volume {volume_id[-2:]}", "size": 30},
        volume_size_gb=30,
        volume_zone=ZONES[0],
        os_family="linux",
        preparation_confirmed="linux-network-settings-removed",
        requested_by=user,
        requested_by_name=user.get_username(),
        channel="api",
        expected_seconds=480,
        **fields,
    )
    for zone in ZONES:
        ZoneSyncResult.objects.create(
            job=job,
            availability_zone=zone,
            role=SyncRole.SOURCE if zone == ZONES[0] else SyncRole.REPLICA,
        )
    job.record(EventKind.ACTION, f"Requested image {image_name!r}.", actor=user)
    return job


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
