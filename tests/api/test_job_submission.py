"""POST /api/v1/jobs/: 201 with the job; 400 naming the broken rule and its field; 404 for a
project or volume the caller cannot see; 409 for a busy volume or a used image name; and the
Idempotency-Key, which makes a retried request safe."""

from __future__ import annotations

import pytest

from imaging.models import EventKind, ImageJob, JobEvent, JobState
from tests.api.client import error_of, job_body
from tests.support.demo import (
    CENTOS_BATCH,
    CENTOS_BROKEN,
    CENTOS_WEB,
    DATA_SMALL,
    P2_CENTOS,
    RHEL_ARCHIVE,
    UBUNTU_APP,
    UBUNTU_FRONT,
    WIN_AD,
)
from tests.support.jobs import make_job


def test_it_creates_a_queued_job_and_answers_201_with_it(api, project, bob):
    response = api(bob).post("/api/v1/jobs/", job_body(project))
    assert response.status_code == 201, response.content
    job = response.json()
    stored = ImageJob.objects.get()
    assert job["id"] == stored.pk
    assert (
        job["state"],
        job["image_name"],
        job["volume_id"],
        job["requested_by"],
        job["channel"],
    ) == ("queued", "web-golden", CENTOS_WEB, "bob", "api")
    assert stored.requested_by == bob
    assert stored.preparation_confirmed == "linux-network-settings-removed"


def test_it_creates_an_image_of_an_in_use_volume_with_force(api, project, bob):
    response = api(bob).post("/api/v1/jobs/", job_body(project, CENTOS_BATCH, force=True))
    assert response.status_code == 201, response.content
    assert response.json()["force"] is True
    assert response.json()["volume"]["attached_server"]["status"] == "SHUTOFF"


def test_it_records_that_the_requester_says_a_running_servers_os_is_stopped(api, project, bob):
    response = api(bob).post(
        "/api/v1/jobs/", job_body(project, UBUNTU_FRONT, force=True, os_stopped_confirmed=True)
    )
    assert response.status_code == 201, response.content
    messages = list(
        JobEvent.objects.filter(job_id=response.json()["id"], kind=EventKind.ACTION).values_list(
            "message", flat=True
        )
    )
    assert any("front-01 is stopped although K5 reports it ACTIVE" in m for m in messages)


def test_the_requester_says_which_os_a_volume_has_when_k5_does_not(api, project, bob):
    response = api(bob).post("/api/v1/jobs/", job_body(project, DATA_SMALL, os_family="windows"))
    assert response.status_code == 201, response.content
    assert response.json()["os_family"] == "windows"
    assert ImageJob.objects.get().preparation_confirmed == "windows-sysprep-run"


@pytest.mark.parametrize(
    ("options", "status", "code", "field", "words"),
    [
        ({"image_name": ""}, 400, "invalid", "image_name", "The image name is required."),
        ({"image_name": "   "}, 400, "invalid", "image_name", "The image name is required."),
        ({"image_name": "x" * 256}, 400, "invalid", "image_name", "at most 255 characters"),
        ({"disk_format": "qcow2"}, 400, "invalid", "disk_format", "not a valid choice"),
        ({"container_format": "ovf"}, 400, "invalid", "container_format", "not a valid choice"),
        (
            {"preparation_confirmed": False},
            400,
            "preparation_required",
            "preparation_confirmed",
            "the network settings tied to the old NIC were removed",
        ),
        (
            {"volume_id": WIN_AD, "preparation_confirmed": False},
            400,
            "preparation_required",
            "preparation_confirmed",
            "Sysprep was run",
        ),
        ({"volume_id": DATA_SMALL}, 400, "os_unknown", "os_family", "Linux or Windows"),
        ({"volume_id": CENTOS_BATCH}, 400, "force_required", "force", "with force"),
        ({"volume_id": UBUNTU_FRONT}, 400, "force_required", "force", "front-01 is ACTIVE"),
        (
            {"volume_id": UBUNTU_FRONT, "force": True},
            400,
            "server_running",
            "os_stopped_confirmed",
            "front-01 is ACTIVE, not SHUTOFF",
        ),
        ({"volume_id": CENTOS_BROKEN}, 400, "volume_not_ready", "volume_id", "The volume is error"),
        ({"volume_id": RHEL_ARCHIVE}, 409, "volume_busy", "volume_id", "already being uploaded"),
        (
            {"image_name": "centos-web-01-golden"},
            409,
            "image_name_taken",
            "image_name",
            "already exists in this project",
        ),
        ({"volume_id": P2_CENTOS}, 404, "not_found", "volume_id", "No such volume"),
        ({"volume_id": "no-such-volume"}, 404, "not_found", "volume_id", "No such volume"),
        ({"volume_id": "../servers"}, 400, "invalid", "volume_id", "A K5 volume id"),
        ({"volume_id": "\x1f"}, 400, "invalid", "volume_id", "may not be blank"),
    ],
)
def test_each_refusal_names_its_rule_and_its_field(
    api, project, bob, options, status, code, field, words
):
    response = api(bob).post("/api/v1/jobs/", job_body(project, **options))
    assert response.status_code == status, response.content
    error = error_of(response)
    assert error["code"] == code
    assert list(error["fields"]) == [field]
    assert words in error["fields"][field][0]
    assert words in error["message"]
    assert ImageJob.objects.count() == 0


def test_it_names_every_missing_field_at_once(api, project, bob):
    response = api(bob).post("/api/v1/jobs/", {"image_name": "web-golden"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    # (preparation_confirmed is not among them: a Windows round trip needs none.)
    assert set(error["fields"]) == {"project", "volume_id"}
    assert error["fields"]["project"] == ["This field is required."]


def test_it_answers_404_for_a_project_that_does_not_exist(api, project, bob):
    response = api(bob).post("/api/v1/jobs/", {**job_body(project), "project": 999_999})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_volume_with_an_active_job_is_409(api, project, bob, dana):
    make_job(project, dana, volume_id=CENTOS_WEB, image_name="other-name", state=JobState.UPLOADING)
    response = api(bob).post("/api/v1/jobs/", job_body(project))
    assert response.status_code == 409
    assert error_of(response)["code"] == "volume_busy"
    assert error_of(response)["fields"] == {"volume_id": [error_of(response)["message"]]}


def test_an_image_name_an_active_job_uses_is_409(api, project, bob, dana):
    make_job(project, dana, volume_id=UBUNTU_APP, image_name="web-golden")
    response = api(bob).post("/api/v1/jobs/", job_body(project))
    assert response.status_code == 409
    assert error_of(response)["code"] == "image_name_taken"


def test_a_volume_whose_job_ended_can_be_imaged_again(api, project, bob):
    make_job(project, bob, state=JobState.FAILED)
    assert api(bob).post("/api/v1/jobs/", job_body(project)).status_code == 201


class TestIdempotencyKey:
    KEY = {"Idempotency-Key": "pipeline-run-42"}

    def test_a_replay_answers_200_with_the_same_job_and_creates_nothing(self, api, project, bob):
        tool = api(bob)
        first = tool.post("/api/v1/jobs/", job_body(project), headers=self.KEY)
        again = tool.post("/api/v1/jobs/", job_body(project), headers=self.KEY)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        assert ImageJob.objects.count() == 1
        assert JobEvent.objects.filter(message__startswith="Requested").count() == 1

    def test_a_replay_after_the_job_moved_on_returns_it_as_it_is_now(self, api, project, bob):
        tool = api(bob)
        first = tool.post("/api/v1/jobs/", job_body(project), headers=self.KEY).json()
        ImageJob.objects.filter(pk=first["id"]).update(state=JobState.UPLOADING)
        again = tool.post("/api/v1/jobs/", job_body(project), headers=self.KEY)
        assert again.status_code == 200
        assert (again.json()["id"], again.json()["state"]) == (first["id"], "uploading")

    def test_the_same_key_with_another_body_is_409(self, api, project, bob):
        tool = api(bob)
        tool.post("/api/v1/jobs/", job_body(project), headers=self.KEY)
        response = tool.post(
            "/api/v1/jobs/", job_body(project, UBUNTU_APP, "app-golden"), headers=self.KEY
        )
        assert response.status_code == 409
        assert error_of(response)["code"] == "idempotency_conflict"
        assert ImageJob.objects.count() == 1

    def test_a_key_longer_than_255_characters_is_refused_not_cut_short(self, api, project, bob):
        tool = api(bob)
        shared = "x" * 255
        first = tool.post(
            "/api/v1/jobs/", job_body(project), headers={"Idempotency-Key": shared + "-first"}
        )
        assert first.status_code == 400
        assert list(error_of(first)["fields"]) == ["Idempotency-Key"]
        assert ImageJob.objects.count() == 0

    def test_keys_belong_to_their_user(self, api, project, bob, dana):
        mine = api(bob).post("/api/v1/jobs/", job_body(project), headers=self.KEY)
        theirs = api(dana).post(
            "/api/v1/jobs/", job_body(project, UBUNTU_APP, "app-golden"), headers=self.KEY
        )
        assert (mine.status_code, theirs.status_code) == (201, 201)

    def test_without_a_key_a_second_request_is_refused_as_a_busy_volume(self, api, project, bob):
        tool = api(bob)
        assert tool.post("/api/v1/jobs/", job_body(project)).status_code == 201
        again = tool.post("/api/v1/jobs/", job_body(project))
        assert again.status_code == 409
        assert error_of(again)["code"] == "volume_busy"
