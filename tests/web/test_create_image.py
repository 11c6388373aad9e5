"""The create-image form: a prefilled name, force only where it applies, the OS preparation
checklist of the detected OS, the queue forecast — and every refusal next to its field."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.models import EventKind, ImageJob, JobState
from tests.support.demo import (
    CENTOS_BATCH,
    CENTOS_BROKEN,
    CENTOS_WEB,
    DATA_SMALL,
    RHEL_DB,
    UBUNTU_APP,
    UBUNTU_FRONT,
    WIN_AD,
)
from tests.support.jobs import make_job, spend_budget
from tests.web.page import Page, page

LINUX_STEP = (
    "Remove the network settings tied to the old NIC (HWADDR/UUID lines in ifcfg "
    "files, persistent-net udev rules), or servers made from the image cannot "
    "communicate."
)
SYSPREP_STEP = "Run Sysprep on the Windows server"


def url(project, volume_id):
    return f"/projects/{project.pk}/volumes/{volume_id}/create-image/"


def form_page(client, project, volume_id) -> Page:
    return page(client, url(project, volume_id))


def post(client, project, volume_id, **data) -> Page:
    """Submit the form as a browser would: checked boxes are sent as "on", others not at all."""
    fields = {"image_name": data.pop("image_name", "web-golden")}
    fields.update({name: "on" for name, checked in data.items() if checked is True})
    fields.update({name: value for name, value in data.items() if isinstance(value, str)})
    response = client.post(url(project, volume_id), fields)
    assert response.status_code in (200, 302), response.status_code
    return Page(response) if response.status_code == 200 else response


def refused(result) -> dict[str, list[str]]:
    assert isinstance(result, Page), f"expected the form again, got {result!r}"
    return result.errors_by_field()


# --- what the form shows ----------------------------------------------------------------------


def test_it_shows_the_volume_and_prefills_a_dated_image_name(signed_in, project, bob):
    form = form_page(signed_in(bob), project, CENTOS_WEB)
    summary = form.main.one("section", cls="summary")
    assert "From volume centos-web-01" in summary
    assert CENTOS_WEB in summary and "30 GB" in summary and "jp-east-1a" in summary
    assert "linux (centos)" in summary
    name = form.main.one("input", name="image_name")
    assert re.fullmatch(r"centos-web-01-\d{8}-\d{4}", name.attrs["value"])
    assert name.attrs["maxlength"] == "255"
    assert form.label_for("image_name") == "Image name"
    assert "Format: raw / bare" in form.main


def test_force_is_offered_only_for_a_volume_attached_to_a_server(signed_in, project, bob):
    client = signed_in(bob)
    available = form_page(client, project, CENTOS_WEB).main
    assert not available.has("input", name="force")
    assert not available.has("input", name="os_stopped_confirmed")

    stopped = form_page(client, project, CENTOS_BATCH)
    assert stopped.main.has("input", name="force")
    assert "batch-01 (SHUTOFF)" in stopped.main.one("section", cls="summary")
    assert not stopped.main.has("input", name="os_stopped_confirmed")


def test_for_a_running_server_it_explains_and_offers_the_i_have_stopped_the_os_override(
    signed_in, project, bob
):
    form = form_page(signed_in(bob), project, UBUNTU_FRONT)
    assert form.main.one("p", role="alert").text == (
        "The server front-01 is ACTIVE, not SHUTOFF: stop its OS first, or confirm that the "
        "OS is stopped."
    )
    assert "K5 reports front-01 as ACTIVE. Stop its OS first" in form.main
    assert form.label_for("os_stopped_confirmed") == (
        "I have stopped the OS of the attached server"
    )
    assert form.main.has("input", name="force")


@pytest.mark.parametrize("volume_id", [CENTOS_WEB, UBUNTU_APP, RHEL_DB])
def test_a_linux_volume_asks_for_the_network_settings_to_be_removed(
    signed_in, project, bob, volume_id
):
    checklist = form_page(signed_in(bob), project, volume_id).main.one("ul", cls="checklist")
    assert checklist.text == LINUX_STEP
    assert "Sysprep" not in checklist


def test_a_windows_volume_asks_for_sysprep_and_announces_the_after_tasks(signed_in, project, bob):
    checklist = form_page(signed_in(bob), project, WIN_AD).main.one("ul", cls="checklist")
    assert SYSPREP_STEP in checklist
    assert "restore the server's snapshot and restart it" in checklist
    assert "HWADDR" not in checklist


def test_a_volume_of_unknown_os_asks_which_os_it_is(signed_in, project, bob):
    form = form_page(signed_in(bob), project, DATA_SMALL)
    assert form.label_for("os_family") == "Which OS is on this volume?"
    choices = [o.attrs["value"] for o in form.main.one("select", name="os_family").all("option")]
    assert choices == ["", "linux", "windows"]
    checklist = form.main.one("ul", cls="checklist")
    assert "Linux (CentOS, Ubuntu, RHEL): remove the network settings" in checklist
    assert "Windows: run Sysprep on the server." in checklist


def test_a_known_os_does_not_ask_which_it_is(signed_in, project, bob):
    assert not form_page(signed_in(bob), project, CENTOS_WEB).main.has("select", name="os_family")


def test_the_preparation_must_be_acknowledged_with_a_labelled_checkbox(signed_in, project, bob):
    form = form_page(signed_in(bob), project, CENTOS_WEB)
    box = form.main.one("input", name="preparation_confirmed")
    assert box.attrs["type"] == "checkbox" and "checked" not in box.attrs
    assert form.label_for("preparation_confirmed") == "I have done the preparation above"


def test_it_says_the_upload_can_start_now_while_the_budget_has_room(signed_in, project, bob):
    assert "Your upload can start now." in form_page(signed_in(bob), project, CENTOS_WEB).main


def test_when_the_budget_is_spent_it_gives_the_queue_position_and_estimated_start(
    signed_in, project, bob, dana
):
    first = spend_budget(project, bob)
    client = signed_in(bob)
    expected = timezone.localtime(first + timedelta(hours=1)).strftime("%H:%M")

    alone = form_page(client, project, CENTOS_WEB).main
    assert (
        f"The upload budget is spent: your job will wait in the queue (position 1), "
        f"estimated start {expected}."
    ) in alone
    assert "4 of 4 uploads used this hour" in alone

    make_job(project, dana, volume_id=UBUNTU_APP, image_name="danas-queued")
    behind = form_page(client, project, CENTOS_WEB).main
    second = timezone.localtime(first + timedelta(hours=1, minutes=1)).strftime("%H:%M")
    assert f"(position 2), estimated start {second}." in behind


# --- submitting -----------------------------------------------------------------------------


def test_bob_creates_an_image_and_lands_on_its_job_page(signed_in, project, bob):
    client = signed_in(bob)
    response = post(
        client, project, CENTOS_WEB, image_name="web-golden", preparation_confirmed=True
    )

    job = ImageJob.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (
        job.image_name,
        job.volume_id,
        job.state,
        job.requested_by,
        job.channel,
        job.preparation_confirmed,
    ) == ("web-golden", CENTOS_WEB, JobState.QUEUED, bob, "web", "linux-network-settings-removed")
    job_page = page(client, response["Location"])
    assert "Image job queued: web-golden" in job_page.messages


def test_bob_names_the_os_of_an_unknown_volume_and_confirms_its_preparation(
    signed_in, project, bob
):
    post(
        signed_in(bob),
        project,
        DATA_SMALL,
        image_name="data-img",
        os_family="windows",
        preparation_confirmed=True,
    )
    job = ImageJob.objects.get()
    assert (job.os_family, job.preparation_confirmed) == ("windows", "windows-sysprep-run")


def test_an_in_use_volume_of_a_stopped_server_is_imaged_with_force(signed_in, project, bob):
    post(
        signed_in(bob),
        project,
        CENTOS_BATCH,
        image_name="batch-img",
        force=True,
        preparation_confirmed=True,
    )
    assert ImageJob.objects.get().force is True


def test_the_override_for_a_running_server_is_recorded_in_the_history(signed_in, project, bob):
    post(
        signed_in(bob),
        project,
        UBUNTU_FRONT,
        image_name="front-img",
        force=True,
        os_stopped_confirmed=True,
        preparation_confirmed=True,
    )
    job = ImageJob.objects.get()
    assert job.os_stopped_override is True
    assert job.events.filter(
        kind=EventKind.ACTION,
        message="Confirmed that the OS of front-01 is stopped although K5 reports it ACTIVE.",
    ).exists()


@pytest.mark.parametrize(
    ("volume_id", "data", "field", "message"),
    [
        (CENTOS_WEB, {"image_name": ""}, "image_name", "This field is required."),
        (CENTOS_WEB, {"image_name": "   "}, "image_name", "The image name is required."),
        (
            CENTOS_WEB,
            {"image_name": "x" * 256},
            "image_name",
            "Ensure this value has at most 255 characters (it has 256).",
        ),
        (
            CENTOS_WEB,
            {"image_name": "rhel-archive-01-image"},
            "image_name",
            "An image named 'rhel-archive-01-image' already exists in this project (K5 allows "
            "duplicates, which makes images hard to tell apart); choose another name.",
        ),
        (
            CENTOS_WEB,
            {},
            "preparation_confirmed",
            "Confirm the preparation before imaging: the network settings tied to the old NIC were "
            "removed (CentOS, Ubuntu, RHEL).",
        ),
        (
            WIN_AD,
            {},
            "preparation_confirmed",
            "Confirm the preparation before imaging: Sysprep was run on the Windows server.",
        ),
        (
            DATA_SMALL,
            {"preparation_confirmed": True},
            "os_family",
            "K5 does not say which OS is on this volume: say whether it is Linux or Windows, so "
            "the right preparation is confirmed.",
        ),
        (
            CENTOS_BATCH,
            {"preparation_confirmed": True},
            "force",
            "The volume is attached to a server (in-use): stop the OS and create the image with "
            "force.",
        ),
        (
            UBUNTU_FRONT,
            {"preparation_confirmed": True},
            "force",
            "The server front-01 is ACTIVE, not SHUTOFF: stop its OS first, or confirm that the OS "
            "is stopped.",
        ),
        (
            UBUNTU_FRONT,
            {"preparation_confirmed": True, "force": True},
            "os_stopped_confirmed",
            "The server front-01 is ACTIVE, not SHUTOFF: stop its OS first, or confirm that the OS "
            "is stopped.",
        ),
    ],
)
def test_each_refusal_appears_next_to_the_field_it_concerns_and_nothing_is_queued(
    signed_in, project, bob, volume_id, data, field, message
):
    result = post(signed_in(bob), project, volume_id, **data)
    assert refused(result) == {field: [message]}
    control = next(e for e in result.main.iter() if e.attrs.get("name") == field)
    assert result.main.one(id_=control.attrs["aria-describedby"]).text == message, (
        "a screen reader reads the error with the field"
    )
    assert not ImageJob.objects.exists()


def test_what_bob_typed_and_ticked_is_kept_when_the_form_comes_back(signed_in, project, bob):
    result = post(
        signed_in(bob),
        project,
        UBUNTU_FRONT,
        image_name="front-img",
        force=True,
        preparation_confirmed=True,
    )
    assert result.main.one("input", name="image_name").attrs["value"] == "front-img"
    assert "checked" in result.main.one("input", name="force").attrs
    assert "checked" in result.main.one("input", name="preparation_confirmed").attrs
    assert "checked" not in result.main.one("input", name="os_stopped_confirmed").attrs


def test_a_name_used_by_a_running_job_of_the_project_is_refused_at_the_name(
    signed_in, project, bob, dana
):
    make_job(
        project, dana, volume_id=UBUNTU_APP, image_name="shared-name", state=JobState.UPLOADING
    )
    result = post(
        signed_in(bob), project, CENTOS_WEB, image_name="shared-name", preparation_confirmed=True
    )
    assert refused(result) == {
        "image_name": [
            "An image job named 'shared-name' is already running in this project; choose another "
            "name."
        ]
    }


def test_refusals_about_the_volume_itself_head_the_form(signed_in, project, bob, dana):
    make_job(project, dana, volume_id=CENTOS_WEB, image_name="first", state=JobState.UPLOADING)
    client = signed_in(bob)
    busy = post(client, project, CENTOS_WEB, image_name="second", preparation_confirmed=True)
    assert refused(busy) == {
        "__all__": [
            "Another image job for this volume is still running; wait for it to end or cancel it."
        ]
    }
    broken = post(client, project, CENTOS_BROKEN, image_name="x", preparation_confirmed=True)
    assert refused(broken) == {
        "__all__": [
            "The volume is error: only an available volume, or an in-use one with force, can be "
            "imaged."
        ]
    }
    assert ImageJob.objects.count() == 1


def test_an_ineligible_volume_shows_its_reason_above_the_form(signed_in, project, bob):
    summary = form_page(signed_in(bob), project, CENTOS_BROKEN).main.one("section", cls="summary")
    assert summary.one("p", role="alert").text == (
        "The volume is error: only an available volume, or an in-use one with force, can be imaged."
    )


def test_the_form_is_protected_against_cross_site_requests(signed_in, project, bob):
    client = signed_in(bob, enforce_csrf_checks=True)
    form = form_page(client, project, CENTOS_WEB)
    assert form.form(method="post", cls="form").has("input", name="csrfmiddlewaretoken")
    response = client.post(
        url(project, CENTOS_WEB), {"image_name": "web-golden", "preparation_confirmed": "on"}
    )
    assert response.status_code == 403
    assert not ImageJob.objects.exists()


# --- who may -------------------------------------------------------------------------------


def test_victor_the_viewer_is_told_he_cannot_create_images(signed_in, project, victor):
    client = signed_in(victor)
    response = client.get(url(project, CENTOS_WEB))
    assert response.status_code == 403
    assert Page(response).main.one("p", role="alert").text == (
        "Viewers cannot create images; ask a project admin for the member role."
    )
    response = client.post(
        url(project, CENTOS_WEB), {"image_name": "web-golden", "preparation_confirmed": "on"}
    )
    assert response.status_code == 403
    assert not ImageJob.objects.exists()


def test_alice_the_admin_and_stella_on_the_staff_may_create_images(
    signed_in, project, alice, stella
):
    assert (
        post(
            signed_in(alice), project, CENTOS_WEB, image_name="a", preparation_confirmed=True
        ).status_code
        == 302
    )
    assert (
        post(
            signed_in(stella), project, UBUNTU_APP, image_name="s", preparation_confirmed=True
        ).status_code
        == 302
    )
    assert sorted(ImageJob.objects.values_list("requested_by_name", flat=True)) == [
        "alice",
        "stella",
    ]


def test_a_volume_that_is_not_in_the_project_is_not_found(signed_in, project, bob):
    assert signed_in(bob).get(url(project, "no-such-volume")).status_code == 404


def test_when_k5_cannot_be_asked_the_form_says_so_and_queues_nothing(
    signed_in, k5sim, project, bob
):
    k5sim.add_fault(kind="http", path="/blockstorage/", status=503, times=None)
    client = signed_in(bob)
    form = form_page(client, project, CENTOS_WEB)
    assert form.main.one("p", role="alert").text.startswith(
        "K5 could not be asked for the volumes:"
    )
    result = post(client, project, CENTOS_WEB, image_name="web-golden", preparation_confirmed=True)
    errors = refused(result)["__all__"]
    assert errors[0].startswith("K5 could not be asked about the volume:")
    assert not ImageJob.objects.exists()
