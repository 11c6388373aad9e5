"""The simulator's demo scenario (k5sim/demo.json, described in k5sim/README.md): its fixed
ids and names, in one place for every test that talks about them.
"""

from __future__ import annotations

import json
from pathlib import Path

DEMO_SCENARIO = Path(__file__).resolve().parents[2] / "k5sim" / "demo.json"

DEMO_REGION = "jp-east-1"
DEMO_CONTRACT = "demo"  # the K5 contract, which is the identity domain
DEMO_USER = "demo-user"
DEMO_PASSWORD = "demo-password"
DEMO_PROJECTS = ("demo-project-1", "demo-project-2")

PROJECT_1 = "aaaa0000000000000000000000000001"  # demo-project-1's K5 id
PROJECT_2 = "aaaa0000000000000000000000000002"  # demo-project-2's K5 id
DOMAIN_ID = "dddd0000000000000000000000000001"
DEMO_USER_ID = "eeee0000000000000000000000000001"
LOCK_USER = "lock-user"  # a second user of demo-project-1, for the lockout tests
LOCK_USER_ID = "eeee0000000000000000000000000002"
LOCK_PASSWORD = "lock-password"
# A person with their own K5 account: role `reader` in demo-project-1 only (K5 sign-in tests).
VIEW_USER = "view-user"
VIEW_USER_ID = "eeee0000000000000000000000000003"
VIEW_PASSWORD = "view-password"

ZONES = ["jp-east-1a", "jp-east-1b"]
ZONE_A_SERVER = "http://192.0.2.11:9292"  # the image server of each zone, as named in
ZONE_B_SERVER = "http://192.0.2.12:9292"  # a `sync_status_reason`
ZONE_SERVERS = {ZONE_A_SERVER: "jp-east-1a", ZONE_B_SERVER: "jp-east-1b"}


def vol(n: int) -> str:
    return f"10000000-0000-4000-8000-{n:012d}"


def srv(n: int) -> str:
    return f"20000000-0000-4000-8000-{n:012d}"


def img(n: int) -> str:
    return f"30000000-0000-4000-8000-{n:012d}"


# demo-project-1's volumes
CENTOS_WEB = vol(1)  # available, CentOS, 30 GB, jp-east-1a
UBUNTU_APP = vol(2)  # available, Ubuntu, 20 GB, jp-east-1a
RHEL_DB = vol(3)  # available, RHEL, 80 GB, jp-east-1b
WIN_AD = vol(4)  # available, Windows, 100 GB, jp-east-1b
CENTOS_BATCH = vol(5)  # in-use on batch-01 (SHUTOFF), 40 GB, jp-east-1a
UBUNTU_FRONT = vol(6)  # in-use on front-01 (ACTIVE), 50 GB, jp-east-1b
CENTOS_BROKEN = vol(7)  # error
RHEL_ARCHIVE = vol(8)  # uploading (image img(8)), 400 GB, jp-east-1b; os_type "rhel7" only
DATA_SMALL = vol(9)  # available, 1 GB, no OS metadata, jp-east-1a
DATA_LARGE = vol(10)  # available, 500 GB, no OS metadata, jp-east-1b
WIN_FILE = vol(11)  # in-use on file-01 (SHUTOFF), Windows: K5's "fcx.win" only, no os_type
DATA_FRONT = vol(12)  # in-use on front-01 (ACTIVE), no OS metadata
WIN_APP = vol(13)  # in-use on win-app-01 (ACTIVE) at /dev/vda, Windows, 80 GB, jp-east-1b
CENTOS_APP = vol(14)  # in-use on centos-app-01 (ACTIVE) at /dev/vda, CentOS, 30 GB, jp-east-1a
PROJECT_1_VOLUMES = {vol(n) for n in range(1, 15)}
# demo-project-2's volumes
P2_CENTOS = vol(21)  # available, CentOS, 30 GB
P2_DATA = vol(23)  # available, no volume type
PROJECT_2_VOLUMES = {vol(n) for n in (21, 22, 23)}

BATCH_SERVER = srv(1)  # SHUTOFF, jp-east-1a
FRONT_SERVER = srv(2)  # ACTIVE, jp-east-1b
FILE_SERVER = srv(3)  # SHUTOFF, jp-east-1b, Windows (win-file-01)
WIN_APP_SERVER = srv(4)  # ACTIVE, jp-east-1b, Windows system volume WIN_APP
CENTOS_APP_SERVER = srv(5)  # ACTIVE, jp-east-1a, CentOS system volume CENTOS_APP
P2_SERVER = srv(21)  # demo-project-2's

PUBLIC_CENTOS_IMAGE = img(1)  # public, protected
GOLDEN_IMAGE = img(11)  # demo-project-1's, protected
OLD_IMAGE = img(12)  # demo-project-1's, deletable
P2_IMAGE = img(21)  # demo-project-2's, private


def demo_scenario() -> dict:
    """The built-in scenario as a dict, to modify and pass to `reset(scenario=...)`."""
    return json.loads(DEMO_SCENARIO.read_text())


def volume_path(volume_id: str, project_id: str = PROJECT_1, version: str = "v2") -> str:
    """A volume's block-storage path, as the simulator's request log records it."""
    return f"/blockstorage/{version}/{project_id}/volumes/{volume_id}"
