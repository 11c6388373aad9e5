"""End-to-end tests: real `manage.py qcluster` processes run the engine against the live
simulator, on the committed test database (tests are `django_db(transaction=True)`).

K5 runs SPEED times faster than real: its hourly upload window lasts WINDOW seconds, and the
project's own pacing window is set to the same length, as it would be to K5's hour. Token life
is scaled back up to 3 real hours: at this speed a 3 h token would last 18 s, less than the
facade's 5-minute refresh margin, and every call would become a sign-in.

alice is the project's admin, bob a member.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User

from imaging.engine import connections
from imaging.engine.submission import submit_job
from imaging.engine.validation import Submission
from imaging.models import ImageJob, K5Project, Membership, Role
from tests.support.simulator import ROOT
from tests.support.workers import queue_name, workers  # noqa: F401 (fixtures)

SPEED = 600
WINDOW = 3600 // SPEED  # seconds: K5's hour at this speed

CENTOS_WEB = "10000000-0000-4000-8000-000000000001"  # available, CentOS, 30 GB, jp-east-1a
UBUNTU_APP = "10000000-0000-4000-8000-000000000002"  # available, Ubuntu, 20 GB, jp-east-1a
RHEL_DB = "10000000-0000-4000-8000-000000000003"  # available, RHEL, 80 GB, jp-east-1b
WIN_AD = "10000000-0000-4000-8000-000000000004"  # available, Windows, 100 GB, jp-east-1b
ZONE_A_SERVER = "http://192.0.2.11:9292"
ZONE_B_SERVER = "http://192.0.2.12:9292"
UPLOAD_ACTION = "POST /blockstorage/v2/{project_id}/volumes/{volume_id}/action"
TOKEN_REQUEST = "POST /identity/v3/auth/tokens"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)  # the workers fixture prints logs on failure
    return report


@pytest.fixture(autouse=True)
def fresh_clients():
    connections.forget_clients()
    yield
    connections.forget_clients()


@pytest.fixture
def sim(k5sim):
    scenario = json.loads((ROOT / "k5sim" / "demo.json").read_text())
    scenario["settings"]["token_seconds"] = 3 * 3600 * SPEED
    k5sim.reset(speed=SPEED, scenario=scenario)
    return k5sim


@pytest.fixture
def project(transactional_db, sim) -> K5Project:
    project = K5Project(
        name="demo-project-1",
        region="jp-east-1",
        identity_url=sim.auth_url,
        contract="demo",
        k5_project_id=sim.project_id("demo-project-1"),
        username="demo-user",
        upload_limit=4,
        upload_window_seconds=WINDOW,
        availability_zones_override=["jp-east-1a", "jp-east-1b"],
        sync_server_zones={ZONE_A_SERVER: "jp-east-1a", ZONE_B_SERVER: "jp-east-1b"},
    )
    project.set_password("demo-password")
    project.save()
    return project


@pytest.fixture
def bob(project) -> User:
    user = User.objects.create_user("bob", email="bob@example.com", password="bob-pw-1")
    Membership.objects.create(user=user, project=project, role=Role.MEMBER)
    return user


def submit(project: K5Project, user: User, volume_id: str, image_name: str) -> ImageJob:
    """What the web form does: validate against K5 and queue (the start task is enqueued on
    commit)."""
    job, created = submit_job(
        Submission(
            project=project, volume_id=volume_id, image_name=image_name, preparation_confirmed=True
        ),
        user=user,
        channel="web",
    )
    assert created
    return job


def requests_to(sim, template: str) -> list[dict]:
    """The simulator's log entries for one endpoint, e.g. UPLOAD_ACTION, in arrival order."""
    method, path = template.split(" ", 1)
    return sorted(
        (e for e in sim.requests_log() if e["method"] == method and e["template"] == path),
        key=lambda e: e["received_at"],
    )


def sim_images(sim, name: str) -> list[dict]:
    return [i for i in sim.state()["images"] if i["name"] == name]


def sim_volume(sim, volume_id: str) -> dict:
    return next(v for v in sim.state()["volumes"] if v["id"] == volume_id)


def state_of(job: ImageJob) -> str:
    job.refresh_from_db()
    return job.state
