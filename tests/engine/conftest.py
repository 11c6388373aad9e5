"""Engine tests: named users and a project bound to the live simulator's demo-project-1.

alice is the project's admin, bob a member, victor a viewer, charlie has no access.
Engine steps are called one at a time (start_due_uploads, send_upload, poll_project), with
K5 time moved by the simulator's clock; end-to-end tests run real qclusters instead.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from imaging.engine import connections
from imaging.engine.pacing import start_due_uploads
from imaging.engine.polling import poll_project
from imaging.engine.submission import submit_job
from imaging.engine.upload import send_upload
from imaging.engine.validation import Submission
from imaging.models import ImageJob, K5Project, Membership, Role

CENTOS_WEB = "10000000-0000-4000-8000-000000000001"  # available, CentOS, 30 GB, 1a
UBUNTU_APP = "10000000-0000-4000-8000-000000000002"  # available, Ubuntu, 20 GB, 1a
RHEL_DB = "10000000-0000-4000-8000-000000000003"  # available, RHEL, 80 GB, 1b
WIN_AD = "10000000-0000-4000-8000-000000000004"  # available, Windows, 100 GB, 1b
CENTOS_BATCH = "10000000-0000-4000-8000-000000000005"  # in-use, server SHUTOFF
UBUNTU_FRONT = "10000000-0000-4000-8000-000000000006"  # in-use, server ACTIVE
CENTOS_BROKEN = "10000000-0000-4000-8000-000000000007"  # error
RHEL_ARCHIVE = "10000000-0000-4000-8000-000000000008"  # uploading
DATA_SMALL = "10000000-0000-4000-8000-000000000009"  # available, 1 GB, OS unknown
P2_CENTOS = "10000000-0000-4000-8000-000000000021"  # demo-project-2's
ZONE_B_SERVER = "http://192.0.2.12:9292"


@pytest.fixture(autouse=True)
def fresh_clients():
    connections.forget_clients()
    yield
    connections.forget_clients()


@pytest.fixture
def project(db, k5sim) -> K5Project:
    project = K5Project(
        name="demo-project-1",
        region="jp-east-1",
        identity_url=k5sim.auth_url,
        contract="demo",
        k5_project_id=k5sim.project_id("demo-project-1"),
        username="demo-user",
        availability_zones_override=["jp-east-1a", "jp-east-1b"],
        sync_server_zones={"http://192.0.2.11:9292": "jp-east-1a", ZONE_B_SERVER: "jp-east-1b"},
    )
    project.set_password("demo-password")
    project.save()
    return project


def make_user(name: str, project: K5Project | None, role: str | None) -> User:
    user = User.objects.create_user(name, email=f"{name}@example.com", password=f"{name}-pw-1")
    if project is not None and role:
        Membership.objects.create(user=user, project=project, role=role)
    return user


@pytest.fixture
def alice(project):
    return make_user("alice", project, Role.ADMIN)


@pytest.fixture
def bob(project):
    return make_user("bob", project, Role.MEMBER)


@pytest.fixture
def charlie(project):
    return make_user("charlie", None, None)


def submission(
    project: K5Project, volume_id: str = CENTOS_WEB, image_name: str = "web-golden", **options
) -> Submission:
    options.setdefault("preparation_confirmed", True)
    return Submission(project=project, volume_id=volume_id, image_name=image_name, **options)


def submit(project, user, volume_id=CENTOS_WEB, image_name="web-golden", **options) -> ImageJob:
    job, created = submit_job(
        submission(project, volume_id, image_name, **options), user=user, channel="web"
    )
    assert created
    return job


def run_to_uploading(project: K5Project, job: ImageJob) -> ImageJob:
    """Take a slot and send the upload, as the tick and a worker would."""
    start_due_uploads(project)
    send_upload(job.pk)
    job.refresh_from_db()
    return job


def poll(project: K5Project, *, later: float = 0) -> None:
    """One engine poll, with the portal's clock `later` seconds ahead (the settle window)."""
    poll_project(project, now=timezone.now() + timedelta(seconds=later))
