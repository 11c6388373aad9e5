"""The cast of the tests: two K5 projects bound to the live simulator and named users around
them. Registered as a plugin (tests/conftest.py), so every test can ask for them by name.

In demo-project-1 (`project`) alice is the admin, bob a member (he requests the jobs), dana
another member and victor a viewer. pat is a member of demo-project-2 only (`other_project`).
charlie belongs to no project, and stella is staff without any membership. Every user's
password is "<name>-password-1".

An area that needs a variant overrides one fixture in its conftest: the end-to-end tests'
`project` paces uploads to the faster simulator, for example, and is still this one.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from imaging.engine import connections
from imaging.models import K5Project, Membership, Role
from tests.support.demo import (
    DEMO_CONTRACT,
    DEMO_PASSWORD,
    DEMO_REGION,
    DEMO_USER,
    ZONE_SERVERS,
    ZONES,
)

WEBHOOK_SECRET = "webhook-signing-secret"


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


def bound_project(k5sim, name: str, **fields) -> K5Project:
    """A K5Project row for one of the simulator's demo projects, signed in as demo-user."""
    project = K5Project(
        name=name,
        region=DEMO_REGION,
        identity_url=k5sim.auth_url,
        contract=DEMO_CONTRACT,
        k5_project_id=k5sim.project_id(name),
        username=DEMO_USER,
        availability_zones_override=list(ZONES),
        sync_server_zones=dict(ZONE_SERVERS),
        **fields,
    )
    project.set_password(DEMO_PASSWORD)
    project.set_webhook_secret(WEBHOOK_SECRET)
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
