import pytest
from django.contrib.auth.models import User

from imaging.models import K5Project, Membership


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def project(db):
    project = K5Project(name="demo-project-1", region="jp-east-1", contract="demo",
                        identity_url="http://127.0.0.1:8774/identity/v3",
                        k5_project_id="p1", username="demo-user")
    project.set_password("the-k5-password")
    project.save()
    return project


def test_it_sends_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_lists_the_projects_of_the_signed_in_user_only(client, alice, project):
    other = K5Project.objects.create(name="someone-elses", region="jp-east-1", contract="c",
                                     identity_url="http://x/v3", k5_project_id="p2",
                                     username="u", password_encrypted="-")
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
