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

from imaging.models import (
    EventKind,
    ImageJob,
    JobState,
    K5Project,
    SyncRole,
    SyncStatus,
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
from tests.web.page import Page


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


def make_job(
    project: K5Project,
    user: User,
    *,
    volume_id: str = CENTOS_WEB,
    image_name: str = "web-golden",
    state: str = JobState.QUEUED,
    os_family: str = "linux",
    **fields,
) -> ImageJob:
    """A job row as the engine leaves it in `state`, with its zones and request event."""
    now = timezone.now()
    if state != JobState.QUEUED:
        fields.setdefault("submitted_at", now)
    if state in (JobState.SUCCEEDED, JobState.FAILED, JobState.SYNC_FAILED, JobState.CANCELLED):
        fields.setdefault("finished_at", now)
    if state == JobState.FAILED:
        fields.setdefault("error_message", "K5 could not create the image: it ended killed.")
        fields.setdefault("error_detail", "volume_status=available, image_status=killed")
    zone_status = {
        z: SyncStatus.SYNCED if state == JobState.SUCCEEDED else SyncStatus.PENDING for z in ZONES
    }
    if state == JobState.SYNC_FAILED:
        reason = (
            f"ERROR:A timeout occurred during synchronize image the server("
            f"{ZONE_B_SERVER}) in the image operation. image_id=img-1"
        )
        fields.setdefault("image_id", "img-1")
        fields.setdefault(
            "error_message",
            "The image is not usable: registering it to availability zone jp-east-1b failed.",
        )
        fields.setdefault("error_detail", reason)
        zone_status = {"jp-east-1a": SyncStatus.SYNCED, "jp-east-1b": SyncStatus.FAILED}
    job = ImageJob.objects.create(
        project=project,
        volume_id=volume_id,
        image_name=image_name,
        state=state,
        volume={"id": volume_id, "name": f"volume-{volume_id[-2:]}", "size": 30},
        volume_size_gb=30,
        volume_zone=ZONES[0],
        os_family=os_family,
        preparation_confirmed="linux-network-settings-removed",
        requested_by=user,
        requested_by_name=user.get_username(),
        channel="web",
        expected_seconds=480,
        **fields,
    )
    for zone in ZONES:
        ZoneSyncResult.objects.create(
            job=job,
            availability_zone=zone,
            role=SyncRole.SOURCE if zone == ZONES[0] else SyncRole.REPLICA,
            status=zone_status[zone],
            reason=fields.get("error_detail", "") if zone_status[zone] == SyncStatus.FAILED else "",
        )
    job.record(EventKind.ACTION, f"Requested image {image_name!r}.", actor=user)
    return job
