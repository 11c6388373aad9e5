"""The cast of the page and API tests: two K5 projects bound to the live simulator and named
users around them.

In demo-project-1 ("the project") alice is the admin, bob a member (he requests the jobs),
dana another member and victor a viewer. pat is a member of demo-project-2 only ("the other
project"). charlie belongs to no project, and stella is staff without any membership.
A conftest that imports these fixtures makes them available to its tests.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from imaging.engine import connections
from imaging.models import K5Project, Membership, Role

# The simulator's demo volumes (k5sim/README.md).
CENTOS_WEB = "10000000-0000-4000-8000-000000000001"  # available, CentOS, 30 GB, 1a
UBUNTU_APP = "10000000-0000-4000-8000-000000000002"  # available, Ubuntu, 20 GB, 1a
RHEL_DB = "10000000-0000-4000-8000-000000000003"  # available, RHEL, 80 GB, 1b
WIN_AD = "10000000-0000-4000-8000-000000000004"  # available, Windows, 100 GB, 1b
CENTOS_BATCH = "10000000-0000-4000-8000-000000000005"  # in-use, batch-01 SHUTOFF
UBUNTU_FRONT = "10000000-0000-4000-8000-000000000006"  # in-use, front-01 ACTIVE
CENTOS_BROKEN = "10000000-0000-4000-8000-000000000007"  # error
RHEL_ARCHIVE = "10000000-0000-4000-8000-000000000008"  # uploading
DATA_SMALL = "10000000-0000-4000-8000-000000000009"  # available, 1 GB, OS unknown
WIN_FILE = "10000000-0000-4000-8000-000000000011"  # in-use, file-01 SHUTOFF
DATA_FRONT = "10000000-0000-4000-8000-000000000012"  # in-use, front-01 ACTIVE, OS unknown
P2_CENTOS = "10000000-0000-4000-8000-000000000021"  # demo-project-2's
ZONES = ["jp-east-1a", "jp-east-1b"]
ZONE_B_SERVER = "http://192.0.2.12:9292"
K5_PASSWORD = "demo-password"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Seven users per test: PBKDF2's deliberate slowness would cost seconds each time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_clients():
    """The simulator forgets its tokens on reset: so must the portal's cached K5 clients."""
    connections.forget_clients()
    yield
    connections.forget_clients()


def bound_project(k5sim, name: str) -> K5Project:
    project = K5Project(
        name=name,
        region="jp-east-1",
        identity_url=k5sim.auth_url,
        contract="demo",
        k5_project_id=k5sim.project_id(name),
        username="demo-user",
        availability_zones_override=ZONES,
        sync_server_zones={"http://192.0.2.11:9292": "jp-east-1a", ZONE_B_SERVER: "jp-east-1b"},
    )
    project.set_password(K5_PASSWORD)
    project.set_webhook_secret("webhook-signing-secret")
    project.save()
    return project


@pytest.fixture
def project(db, k5sim) -> K5Project:
    return bound_project(k5sim, "demo-project-1")


@pytest.fixture
def other_project(db, k5sim) -> K5Project:
    return bound_project(k5sim, "demo-project-2")


def make_user(
    name: str, project: K5Project | None = None, role: str | None = None, **extra
) -> User:
    user = User.objects.create_user(
        name, email=f"{name}@example.com", password=f"{name}-password-1", **extra
    )
    if project is not None:
        Membership.objects.create(user=user, project=project, role=role)
    return user


@pytest.fixture
def alice(project):
    return make_user("alice", project, Role.ADMIN)


@pytest.fixture
def bob(project):
    return make_user("bob", project, Role.MEMBER)


@pytest.fixture
def dana(project):
    return make_user("dana", project, Role.MEMBER)


@pytest.fixture
def victor(project):
    return make_user("victor", project, Role.VIEWER)


@pytest.fixture
def pat(other_project):
    return make_user("pat", other_project, Role.MEMBER)


@pytest.fixture
def charlie(db):
    return make_user("charlie")


@pytest.fixture
def stella(db):
    return make_user("stella", is_staff=True)
