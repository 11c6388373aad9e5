"""No K5 secret is ever rendered: the project's password, its ciphertext and the webhook
secret appear in no page, fragment or export — even after real K5 calls and a real failure
have filled the history."""

import pytest
from django.contrib.auth.models import User

from imaging.engine.pacing import start_due_uploads
from imaging.engine.polling import poll_project
from imaging.engine.upload import send_upload
from imaging.models import ImageJob, JobState
from tests.support.cast import WEBHOOK_SECRET
from tests.support.demo import (
    CENTOS_BATCH,
    CENTOS_WEB,
    DATA_SMALL,
    DEMO_PASSWORD,
    UBUNTU_FRONT,
    WIN_AD,
)
from tests.support.jobs import make_job


def secrets_of(project) -> list[str]:
    return [
        DEMO_PASSWORD,
        project.password_encrypted,
        WEBHOOK_SECRET,
        project.webhook_secret_encrypted,
    ]


@pytest.fixture
def busy_project(k5sim, project, bob, signed_in):
    """A project whose history holds real K5 calls and a real sync failure."""
    k5sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    client = signed_in(bob)
    client.post(
        f"/projects/{project.pk}/volumes/{DATA_SMALL}/create-image/",
        {"image_name": "data-img", "os_family": "linux", "preparation_confirmed": "on"},
    )
    job = ImageJob.objects.get()
    start_due_uploads(project)
    send_upload(job.pk)
    k5sim.advance(60 + 12 + 10)  # the simulator's upload time for 1 GB, and a little
    poll_project(project)
    k5sim.advance(200)  # zone registration takes 120 s
    poll_project(project)
    job.refresh_from_db()
    assert job.state == JobState.SYNC_FAILED
    make_job(
        project,
        bob,
        volume_id=WIN_AD,
        image_name="win",
        state=JobState.SUCCEEDED,
        os_family="windows",
    )
    make_job(project, bob, volume_id=CENTOS_WEB, image_name="queued")
    return project


def pages_of(project) -> list[str]:
    volumes = f"/projects/{project.pk}/volumes/"
    jobs = [f"/jobs/{pk}/" for pk in ImageJob.objects.values_list("pk", flat=True)]
    return [
        "/",
        volumes,
        f"{volumes}?eligible=no",
        *(
            f"{volumes}{v}/create-image/"
            for v in (CENTOS_WEB, CENTOS_BATCH, UBUNTU_FRONT, DATA_SMALL)
        ),
        *jobs,
        *(f"{url}?partial=1" for url in jobs),
        "/jobs/",
        "/audit/",
        "/audit/?export=csv",
        "/audit/?export=json",
        "/profile/",
        "/accounts/password/",
    ]


def test_no_page_bob_or_staff_can_open_shows_a_k5_secret(busy_project, signed_in, bob, stella):
    assert ImageJob.objects.get(image_name="data-img").events.filter(kind="k5_call").exists()
    for user in (bob, stella):
        client = signed_in(user)
        for url in pages_of(busy_project):
            response = client.get(url)
            assert response.status_code == 200, (user, url)
            body = response.getvalue().decode()  # the exports are streamed
            for secret in secrets_of(busy_project):
                assert secret not in body, (user.username, url)


def test_no_admin_page_shows_a_k5_secret(busy_project, signed_in):
    root = User.objects.create_superuser("root", password="root-password-1")
    client = signed_in(root)
    job = ImageJob.objects.get(image_name="data-img")
    for url in (
        "/admin/imaging/k5project/",
        f"/admin/imaging/k5project/{busy_project.pk}/change/",
        "/admin/imaging/imagejob/",
        f"/admin/imaging/imagejob/{job.pk}/change/",
        "/admin/imaging/jobevent/",
        "/admin/imaging/membership/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        for secret in secrets_of(busy_project):
            assert secret not in response.content.decode(), url
