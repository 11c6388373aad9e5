"""Page tests: named users around two K5 projects bound to the live simulator.

In demo-project-1 ("the project") alice is the admin, bob a member (he requests the jobs),
dana another member and victor a viewer. pat is a member of demo-project-2 only ("the other
project"). charlie belongs to no project, and stella is staff without any membership.

`signed_in(user)` is a browser-like test client with that user's session. Pages are read
through `Page`, which parses the HTML, so tests say what a reader would see ("the error
next to the image name") rather than match strings in markup.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from imaging.engine import connections
from imaging.models import (
    EventKind,
    ImageJob,
    JobState,
    K5Project,
    Membership,
    Role,
    SyncRole,
    SyncStatus,
    ZoneSyncResult,
)
from tests.web.page import Page

# The simulator's demo volumes (k5sim/README.md).
CENTOS_WEB = "10000000-0000-4000-8000-000000000001"     # available, CentOS, 30 GB, 1a
UBUNTU_APP = "10000000-0000-4000-8000-000000000002"     # available, Ubuntu, 20 GB, 1a
RHEL_DB = "10000000-0000-4000-8000-000000000003"        # available, RHEL, 80 GB, 1b
WIN_AD = "10000000-0000-4000-8000-000000000004"         # available, Windows, 100 GB, 1b
CENTOS_BATCH = "10000000-0000-4000-8000-000000000005"   # in-use, batch-01 SHUTOFF
UBUNTU_FRONT = "10000000-0000-4000-8000-000000000006"   # in-use, front-01 ACTIVE
CENTOS_BROKEN = "10000000-0000-4000-8000-000000000007"  # error
RHEL_ARCHIVE = "10000000-0000-4000-8000-000000000008"   # uploading
DATA_SMALL = "10000000-0000-4000-8000-000000000009"     # available, 1 GB, OS unknown
WIN_FILE = "10000000-0000-4000-8000-000000000011"       # in-use, file-01 SHUTOFF
DATA_FRONT = "10000000-0000-4000-8000-000000000012"     # in-use, front-01 ACTIVE, OS unknown
P2_CENTOS = "10000000-0000-4000-8000-000000000021"      # demo-project-2's
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
    project = K5Project(name=name, region="jp-east-1", identity_url=k5sim.auth_url,
                        contract="demo", k5_project_id=k5sim.project_id(name),
                        username="demo-user", availability_zones_override=ZONES,
                        sync_server_zones={"http://192.0.2.11:9292": "jp-east-1a",
                                           ZONE_B_SERVER: "jp-east-1b"})
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


def make_user(name: str, project: K5Project | None = None, role: str | None = None,
              **extra) -> User:
    user = User.objects.create_user(name, email=f"{name}@example.com",
                                    password=f"{name}-password-1", **extra)
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


@pytest.fixture
def signed_in(db):
    """`signed_in(bob)`: a client with bob's session; `signed_in(None)`: anonymous."""
    def client_for(user: User | None, **options) -> Client:
        client = Client(**options)
        if user is not None:
            client.force_login(user)
        return client
    return client_for


def page(client: Client, url: str, **params) -> Page:
    """GET a page and parse it; fails the test on anything but 200."""
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return Page(response)


def make_job(project: K5Project, user: User, *, volume_id: str = CENTOS_WEB,
             image_name: str = "web-golden", state: str = JobState.QUEUED,
             os_family: str = "linux", **fields) -> ImageJob:
    """A job row as the engine leaves it in `state`, with its zones and request event."""
    now = timezone.now()
    if state != JobState.QUEUED:
        fields.setdefault("submitted_at", now)
    if state in (JobState.SUCCEEDED, JobState.FAILED, JobState.SYNC_FAILED,
                 JobState.CANCELLED):
        fields.setdefault("finished_at", now)
    if state == JobState.FAILED:
        fields.setdefault("error_message", "K5 could not create the image: it ended killed.")
        fields.setdefault("error_detail", "volume_status=available, image_status=killed")
    zone_status = {z: SyncStatus.SYNCED if state == JobState.SUCCEEDED else SyncStatus.PENDING
                   for z in ZONES}
    if state == JobState.SYNC_FAILED:
        reason = (f"ERROR:A timeout occurred during synchronize image the server("
                  f"{ZONE_B_SERVER}) in the image operation. image_id=img-1")
        fields.setdefault("image_id", "img-1")
        fields.setdefault("error_message", "The image is not usable: registering it to "
                                           "availability zone jp-east-1b failed.")
        fields.setdefault("error_detail", reason)
        zone_status = {"jp-east-1a": SyncStatus.SYNCED, "jp-east-1b": SyncStatus.FAILED}
    job = ImageJob.objects.create(
        project=project, volume_id=volume_id, image_name=image_name, state=state,
        volume={"id": volume_id, "name": f"volume-{volume_id[-2:]}", "size": 30},
        volume_size_gb=30, volume_zone=ZONES[0], os_family=os_family,
        preparation_confirmed="linux-network-settings-removed", requested_by=user,
        requested_by_name=user.get_username(), channel="web", expected_seconds=480, **fields)
    for zone in ZONES:
        ZoneSyncResult.objects.create(
            job=job, availability_zone=zone,
            role=SyncRole.SOURCE if zone == ZONES[0] else SyncRole.REPLICA,
            status=zone_status[zone],
            reason=fields.get("error_detail", "") if zone_status[zone] == SyncStatus.FAILED
            else "")
    job.record(EventKind.ACTION, f"Requested image {image_name!r}.", actor=user)
    return job
