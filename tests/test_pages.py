"""The health check, and the admin pages of projects and jobs (read-only, no K5 password).
Signing in and the dashboard are tests/web's."""

from django.contrib.auth.models import User

from tests.support.demo import DEMO_PASSWORD


def test_healthz_answers_when_the_database_is_reachable(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_admin_never_renders_the_k5_password(client, project):
    admin = User.objects.create_superuser("root", password="root-password-1")
    client.force_login(admin)
    page = client.get(f"/admin/imaging/k5project/{project.pk}/change/").content.decode()
    assert DEMO_PASSWORD not in page
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
