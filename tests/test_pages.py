import pytest
from django.contrib.auth.models import User

from imaging.models import K5Project, Membership


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def project(db):
    project = K5Project(
        name="demo-project-1",
        region="jp-east-1",
        contract="demo",
        identity_url="http://127.0.0.1:8774/identity/v3",
        k5_project_id="p1",
        username="demo-user",
    )
    project.set_password("the-k5-password")
    project.save()
    return project


def test_it_sends_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_lists_the_projects_of_the_signed_in_user_only(client, alice, project):
    other = K5Project.objects.create(
        name="someone-elses",
        region="jp-east-1",
        contract="c",
        identity_url="http://x/v3",
        k5_project_id="p2",
        username="u",
        password_encrypted="-",
    )
    Membership.objects.create(user=alice, project=project, role="member")
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "demo-project-1" in page
    assert other.name not in page


def test_healthz_answers_when_the_database_is_reachable(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_admin_never_renders_the_k5_password(client, project):
    admin = User.objects.create_superuser("root", password="root-password-1")
    client.force_login(admin)
    page = client.get(f"/admin/imaging/k5project/{project.pk}/change/").content.decode()
    assert "the-k5-password" not in page
    assert project.password_encrypted not in page
    assert 'type="password"' in page


def test_admin_shows_jobs_and_events_read_only(client, project):
    from imaging.models import ImageJob, JobEvent

    admin = User.objects.create_superuser("root", password="root-password-1")
    job = ImageJob.objects.create(
        project=project,
        volume_id="v1",
        image_name="img",
        preparation_confirmed="linux-network-settings-removed",
        requested_by=admin,
        requested_by_name="root",
    )
    JobEvent.record(
        project_id=project.pk, job_id=job.pk, kind="action", message="Requested", actor=admin
    )
    client.force_login(admin)
    for url in (
        "/admin/imaging/imagejob/",
        f"/admin/imaging/imagejob/{job.pk}/change/",
        "/admin/imaging/jobevent/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "Requested" in page.content.decode() or "img" in page.content.decode()
    assert client.get("/admin/imaging/imagejob/add/").status_code == 403
    assert client.post(f"/admin/imaging/imagejob/{job.pk}/delete/").status_code == 403
    assert ImageJob.objects.filter(pk=job.pk).exists()
