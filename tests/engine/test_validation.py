"""Every rule a submission must pass, each refusal naming the rule and its field."""

import pytest

from imaging.engine.errors import Refusal
from imaging.engine.submission import submit_job
from imaging.engine.validation import check_submission
from imaging.models import ImageJob, JobState
from tests.support.demo import (
    CENTOS_BATCH,
    CENTOS_BROKEN,
    DATA_SMALL,
    P2_CENTOS,
    RHEL_ARCHIVE,
    UBUNTU_FRONT,
    WIN_AD,
)
from tests.support.jobs import submission, submit


def refusal(project, **options) -> Refusal:
    with pytest.raises(Refusal) as caught:
        check_submission(submission(project, **options))
    return caught.value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "code", "field", "words"),
    [
        ({"image_name": ""}, "invalid", "image_name", "The image name is required."),
        ({"image_name": "   "}, "invalid", "image_name", "The image name is required."),
        ({"image_name": "x" * 256}, "invalid", "image_name", "at most 255 characters (it has 256)"),
        ({"disk_format": "qcow2"}, "invalid", "disk_format", "only in the raw disk format"),
        ({"container_format": "ovf"}, "invalid", "container_format", "only in the bare container"),
        ({"volume_id": "no-such-volume"}, "not_found", "volume_id", "No such volume in this"),
        ({"volume_id": P2_CENTOS}, "not_found", "volume_id", "No such volume in this project"),
        ({"volume_id": CENTOS_BROKEN}, "volume_not_ready", "volume_id", "The volume is error"),
        ({"volume_id": RHEL_ARCHIVE}, "volume_busy", "volume_id", "already being uploaded"),
        ({"volume_id": CENTOS_BATCH}, "force_required", "force", "create the image with force"),
        (
            {"volume_id": UBUNTU_FRONT, "force": True},
            "server_running",
            "os_stopped_confirmed",
            "The server front-01 is ACTIVE, not SHUTOFF",
        ),
        (
            {"image_name": "centos-web-01-golden"},
            "image_name_taken",
            "image_name",
            "An image named 'centos-web-01-golden' already exists",
        ),
        (
            {"preparation_confirmed": False},
            "preparation_required",
            "preparation_confirmed",
            "the network settings tied to the old NIC were removed",
        ),
        (
            {"volume_id": WIN_AD, "preparation_confirmed": False},
            "preparation_required",
            "preparation_confirmed",
            "Sysprep was run",
        ),
        (
            {"volume_id": DATA_SMALL},
            "os_unknown",
            "os_family",
            "say whether it is Linux or Windows",
        ),
    ],
)
def test_each_rule_refuses_with_its_own_message_and_field(
    k5sim, project, options, code, field, words
):
    refused = refusal(project, **options)
    assert (refused.code, refused.field) == (code, field)
    assert words in refused.message


@pytest.mark.django_db
def test_what_passes(k5sim, project):
    windows = check_submission(submission(project, WIN_AD))
    assert (windows.os_family, windows.preparation) == ("windows", "windows-sysprep-run")
    shut_off = check_submission(submission(project, CENTOS_BATCH, force=True))
    assert shut_off.server == {
        "id": "20000000-0000-4000-8000-000000000001",
        "name": "batch-01",
        "status": "SHUTOFF",
    }
    unknown = check_submission(submission(project, DATA_SMALL, os_family="linux"))
    assert unknown.preparation == "linux-network-settings-removed"
    assert check_submission(submission(project, image_name="x" * 255)).volume.size == 30


@pytest.mark.django_db
def test_a_running_server_may_be_overridden_and_the_override_is_recorded(k5sim, project, bob):
    job = submit(project, bob, UBUNTU_FRONT, force=True, os_stopped_confirmed=True)
    assert job.os_stopped_override
    assert job.volume["attached_server"]["status"] == "ACTIVE"
    override = job.events.get(message__startswith="Confirmed that the OS of front-01 is stopped")
    assert override.actor == bob


@pytest.mark.django_db
def test_one_active_job_per_volume_and_per_image_name(k5sim, project, bob):
    submit(project, bob, image_name="first")
    busy = refusal(project, image_name="second")
    assert busy.code == "volume_busy"
    taken = refusal(project, volume_id=WIN_AD, image_name="first")
    assert taken.code == "image_name_taken" and "already running" in taken.message


@pytest.mark.django_db
def test_a_finished_job_frees_its_volume_and_name(k5sim, project, bob):
    job = submit(project, bob)
    job.transition(JobState.CANCELLED, message="test")
    assert check_submission(submission(project)).volume.id == job.volume_id


@pytest.mark.django_db
def test_an_idempotency_key_replays_the_same_job_and_refuses_another_request(k5sim, project, bob):
    first, created = submit_job(
        submission(project), user=bob, channel="api", idempotency_key="key-1"
    )
    again, created_again = submit_job(
        submission(project), user=bob, channel="api", idempotency_key="key-1"
    )
    assert created and not created_again and again.pk == first.pk
    with pytest.raises(Refusal) as caught:
        submit_job(submission(project, WIN_AD), user=bob, channel="api", idempotency_key="key-1")
    assert caught.value.code == "idempotency_conflict"
    assert ImageJob.objects.count() == 1


@pytest.mark.django_db
def test_k5_being_down_is_said_plainly_and_nothing_is_queued(k5sim, project, bob):
    k5sim.add_fault(kind="http", path="/volumes/", status=503, times=None)
    refused = refusal(project)
    assert refused.code == "k5_unavailable"
    assert refused.message.startswith("K5 could not be asked about the volume")
    assert not ImageJob.objects.exists()
