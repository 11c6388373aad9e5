"""Facade tests run against the live simulator (tests/conftest.py's `k5sim`), over real HTTP."""

from __future__ import annotations

import pytest

from imaging.k5 import K5Client, K5Config
from tests.support.simulator import DEMO_CONTRACT, DEMO_PASSWORD, DEMO_REGION, DEMO_USER

# Fixed ids of the demo scenario (k5sim/demo.json).
PROJECT_1 = "aaaa0000000000000000000000000001"
PROJECT_2 = "aaaa0000000000000000000000000002"
DEMO_USER_ID = "eeee0000000000000000000000000001"
LOCK_USER = "lock-user"
LOCK_PASSWORD = "lock-password"

CENTOS_WEB = "10000000-0000-4000-8000-000000000001"  # available, centos, 30 GB, jp-east-1a
UBUNTU_APP = "10000000-0000-4000-8000-000000000002"  # available, ubuntu
RHEL_DB = "10000000-0000-4000-8000-000000000003"  # available, rhel
WIN_AD = "10000000-0000-4000-8000-000000000004"  # available, windows
CENTOS_BATCH = "10000000-0000-4000-8000-000000000005"  # in-use on batch-01 (SHUTOFF)
UBUNTU_FRONT = "10000000-0000-4000-8000-000000000006"  # in-use on front-01 (ACTIVE)
CENTOS_BROKEN = "10000000-0000-4000-8000-000000000007"  # error
RHEL_ARCHIVE = "10000000-0000-4000-8000-000000000008"  # uploading
DATA_SMALL = "10000000-0000-4000-8000-000000000009"  # available, 1 GB, no OS
P2_CENTOS = "10000000-0000-4000-8000-000000000021"  # demo-project-2's

BATCH_SERVER = "20000000-0000-4000-8000-000000000001"  # SHUTOFF, jp-east-1a
FRONT_SERVER = "20000000-0000-4000-8000-000000000002"  # ACTIVE, jp-east-1b
P2_SERVER = "20000000-0000-4000-8000-000000000021"

PUBLIC_CENTOS_IMAGE = "30000000-0000-4000-8000-000000000001"  # public, protected
GOLDEN_IMAGE = "30000000-0000-4000-8000-000000000011"  # project 1's, protected
OLD_IMAGE = "30000000-0000-4000-8000-000000000012"  # project 1's, deletable
P2_IMAGE = "30000000-0000-4000-8000-000000000021"  # project 2's, private

TOKEN_PATH = "/identity/v3/auth/tokens"


@pytest.fixture
def make_client(k5sim):
    """Build clients for the demo user and project 1; keyword arguments override settings."""
    clients = []

    def make(observer=None, **overrides) -> K5Client:
        settings = {
            "auth_url": k5sim.auth_url,
            "region": DEMO_REGION,
            "contract": DEMO_CONTRACT,
            "username": DEMO_USER,
            "password": DEMO_PASSWORD,
            "project_id": PROJECT_1,
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            # Real backoff shape, test-sized delays.
            "retry_backoff": 0.01,
            "retry_backoff_max": 0.05,
        }
        settings.update(overrides)
        client = K5Client(K5Config(**settings), observer=observer)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def records() -> list:
    return []


@pytest.fixture
def client(make_client, records) -> K5Client:
    return make_client(observer=records.append)


def logged(k5sim, method: str, path: str) -> list[dict]:
    """The simulator's log entries for exactly this method and path (query excluded)."""
    return [
        entry
        for entry in k5sim.requests_log()
        if entry["method"] == method and entry["path"].split("?")[0] == path
    ]


def volume_path(volume_id: str, project_id: str = PROJECT_1, version: str = "v2") -> str:
    return f"/blockstorage/{version}/{project_id}/volumes/{volume_id}"
