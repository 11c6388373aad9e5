"""GET /api/v1/projects/ and /projects/{id}/volumes/: the contract's fields, with what K5 says
of each demo volume turned into "can I image it now, and if not, why"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from imaging.models import UploadAttempt
from tests.api.client import error_of
from tests.support.demo import (
    CENTOS_BATCH,
    CENTOS_BROKEN,
    CENTOS_WEB,
    DATA_FRONT,
    DATA_SMALL,
    PROJECT_1_VOLUMES,
    RHEL_ARCHIVE,
    UBUNTU_FRONT,
    WIN_AD,
)
from tests.support.jobs import make_job

PROJECT_FIELDS = {
    "id",
    "name",
    "region",
    "role",
    "upload_limit",
    "uploads_in_window",
    "next_slot_at",
}
VOLUME_FIELDS = {
    "id",
    "name",
    "size",
    "status",
    "availability_zone",
    "bootable",
    "attached_server",
    "os_family",
    "eligible",
    "ineligible_reason",
    "requires_force",
}


def test_it_lists_a_project_with_its_upload_budget(api, project, bob):
    [listed] = api(bob).get("/api/v1/projects/").json()
    assert set(listed) >= PROJECT_FIELDS
    assert listed == {
        **listed,
        "id": project.pk,
        "name": "demo-project-1",
        "region": "jp-east-1",
        "role": "member",
        "upload_limit": 4,
        "uploads_in_window": 0,
        "next_slot_at": None,
    }


def test_it_says_when_the_next_upload_slot_opens_once_the_window_is_full(api, project, bob):
    project.upload_limit = 2
    project.save()
    job = make_job(project, bob)
    first = timezone.now() - timedelta(minutes=50)
    UploadAttempt.objects.create(project=project, job=job, sent_at=first)
    UploadAttempt.objects.create(project=project, job=job, sent_at=first + timedelta(minutes=5))
    # A call K5 rate-limited did not use an upload: it is not counted.
    UploadAttempt.objects.create(
        project=project, job=job, sent_at=first, outcome=UploadAttempt.Outcome.RATE_LIMITED
    )

    shown = api(bob).get(f"/api/v1/projects/{project.pk}/").json()
    assert shown["uploads_in_window"] == 2
    assert parse_datetime(shown["next_slot_at"]) == first + timedelta(hours=1)


def volumes_of(api, user, project, **params) -> dict[str, dict]:
    response = api(user).get(f"/api/v1/projects/{project.pk}/volumes/", params)
    assert response.status_code == 200, response.content
    return {volume["id"]: volume for volume in response.json()}


def test_it_lists_every_volume_of_the_project_and_no_other(api, project, bob):
    volumes = volumes_of(api, bob, project)
    assert set(volumes) == PROJECT_1_VOLUMES
    assert all(set(volume) == VOLUME_FIELDS for volume in volumes.values())


def test_an_available_volume_can_be_imaged_without_force(api, project, bob):
    assert volumes_of(api, bob, project)[CENTOS_WEB] == {
        "id": CENTOS_WEB,
        "name": "centos-web-01",
        "size": 30,
        "status": "available",
        "availability_zone": "jp-east-1a",
        "bootable": True,
        "attached_server": None,
        "os_family": "linux",
        "eligible": True,
        "ineligible_reason": None,
        "requires_force": False,
    }


def test_a_volume_on_a_stopped_server_can_be_imaged_with_force(api, project, bob):
    batch = volumes_of(api, bob, project)[CENTOS_BATCH]
    assert batch["status"] == "in-use"
    assert batch["attached_server"] == {
        "id": "20000000-0000-4000-8000-000000000001",
        "name": "batch-01",
        "status": "SHUTOFF",
    }
    assert (batch["eligible"], batch["requires_force"], batch["ineligible_reason"]) == (
        True,
        True,
        None,
    )


def test_a_volume_on_a_running_server_cannot_be_imaged_and_says_why(api, project, bob):
    front = volumes_of(api, bob, project)[UBUNTU_FRONT]
    assert front["attached_server"] == {
        "id": "20000000-0000-4000-8000-000000000002",
        "name": "front-01",
        "status": "ACTIVE",
    }
    assert (front["eligible"], front["requires_force"]) == (False, True)
    assert "front-01 is ACTIVE, not SHUTOFF" in front["ineligible_reason"]


@pytest.mark.parametrize(
    ("volume_id", "words"),
    [
        (CENTOS_BROKEN, "The volume is error"),
        (RHEL_ARCHIVE, "already being uploaded"),
    ],
)
def test_a_volume_in_error_or_uploading_cannot_be_imaged(api, project, bob, volume_id, words):
    volume = volumes_of(api, bob, project)[volume_id]
    assert volume["eligible"] is False
    assert words in volume["ineligible_reason"]


def test_it_tells_the_os_family_or_that_k5_does_not_know_it(api, project, bob):
    volumes = volumes_of(api, bob, project)
    assert volumes[WIN_AD]["os_family"] == "windows"
    assert volumes[DATA_SMALL]["os_family"] == "unknown"
    assert volumes[DATA_SMALL]["eligible"] is True
    assert volumes[DATA_FRONT]["os_family"] == "unknown"


def test_a_volume_held_by_one_of_our_jobs_cannot_be_imaged_again(api, project, bob):
    make_job(project, bob, volume_id=CENTOS_WEB)
    web = volumes_of(api, bob, project)[CENTOS_WEB]
    assert web["eligible"] is False
    assert "still running" in web["ineligible_reason"]


def test_it_reuses_the_cached_list_until_asked_to_refresh(api, project, bob, k5sim, settings):
    settings.K5_INVENTORY_MIN_SECONDS = 0  # not coalesced with the first listing
    volumes_of(api, bob, project)
    k5sim.control("PATCH", f"volumes/{CENTOS_WEB}", json={"status": "error"})
    assert volumes_of(api, bob, project)[CENTOS_WEB]["status"] == "available"

    refreshed = api(bob).get(f"/api/v1/projects/{project.pk}/volumes/", {"refresh": "true"})
    assert {v["id"]: v for v in refreshed.json()}[CENTOS_WEB]["status"] == "error"
    assert parse_datetime(refreshed["X-Refreshed-At"]) > timezone.now() - timedelta(seconds=5)


def test_a_refresh_that_is_neither_true_nor_false_is_a_400(api, project, bob):
    response = api(bob).get(f"/api/v1/projects/{project.pk}/volumes/", {"refresh": "soon"})
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["refresh"]


def test_it_answers_503_in_json_when_k5_cannot_be_asked(api, project, bob, k5sim):
    k5sim.add_fault(kind="http", path="volumes/detail", status=503, times=None)
    response = api(bob).get(f"/api/v1/projects/{project.pk}/volumes/")
    assert response.status_code == 503
    assert error_of(response)["code"] == "k5_unavailable"
