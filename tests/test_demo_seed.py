"""seed_demo binds the demo to the simulator; `k5project check` proves a project works."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from imaging.engine.connections import mark_credentials_invalid
from imaging.k5 import K5CredentialError
from imaging.models import K5Project, Membership


@pytest.mark.django_db
def test_seed_demo_creates_users_and_projects_bound_to_the_simulator_and_is_repeatable(
    k5sim, capsys
):
    call_command("seed_demo", "--auth-url", k5sim.auth_url)
    call_command("seed_demo", "--auth-url", k5sim.auth_url)

    assert authenticate(username="demo", password="demo-password") is not None
    admin = authenticate(username="admin", password="admin-password")
    assert admin.is_staff and admin.is_superuser
    projects = {p.name: p for p in K5Project.objects.all()}
    assert set(projects) == {"demo-project-1", "demo-project-2"}
    first = projects["demo-project-1"]
    assert first.k5_project_id == k5sim.project_id("demo-project-1")
    assert (first.identity_url, first.contract, first.username, first.region) == (
        k5sim.auth_url,
        "demo",
        "demo-user",
        "jp-east-1",
    )
    assert first.get_password() == "demo-password"
    roles = dict(Membership.objects.values_list("project__name", "role"))
    assert roles == {"demo-project-1": "member", "demo-project-2": "admin"}


@pytest.mark.django_db
def test_seed_demo_says_plainly_when_the_simulator_is_not_there():
    with pytest.raises(CommandError, match="cannot reach the demo K5 project demo-project-1"):
        call_command("seed_demo", "--auth-url", "http://127.0.0.1:9/identity/v3")


@pytest.mark.django_db
def test_check_authenticates_and_summarises_the_volumes(k5sim, capsys):
    call_command("seed_demo", "--auth-url", k5sim.auth_url)
    capsys.readouterr()
    call_command("k5project", "check", "demo-project-1")
    line = capsys.readouterr().out.strip()
    volumes = [
        v for v in k5sim.state()["volumes"] if v["project_id"] == k5sim.project_id("demo-project-1")
    ]
    assert line.startswith("demo-project-1: OK - signed in as demo-user to project ")
    assert f"in jp-east-1; {len(volumes)} volume(s) (" in line
    assert "1 uploading" in line and "1 error" in line


@pytest.mark.django_db
def test_check_with_a_wrong_password_tries_once_and_says_how_to_fix_it(k5sim, monkeypatch):
    call_command("seed_demo", "--auth-url", k5sim.auth_url)
    monkeypatch.setenv("K5_PASSWORD", "wrong-password")
    call_command("k5project", "set-password", "demo-project-1")
    k5sim.clear_requests()
    with pytest.raises(CommandError, match=r"K5 rejected the credential .* No further") as error:
        call_command("k5project", "check", "demo-project-1")
    assert "manage.py k5project set-password demo-project-1" in str(error.value)
    assert k5sim.request_counts().get("POST /identity/v3/auth/tokens") == 1
    # Asked again, the command sends nothing: the engine's mark stands.
    with pytest.raises(CommandError, match="K5 rejected the credential"):
        call_command("k5project", "check", "demo-project-1")
    assert k5sim.request_counts().get("POST /identity/v3/auth/tokens") == 1
    assert K5Project.objects.get(name="demo-project-1").credentials_invalid_at is not None


@pytest.mark.django_db
def test_check_force_sends_a_rejected_password_once_and_clears_the_mark_when_k5_accepts_it(
    k5sim, capsys
):
    """The password was fixed in K5 itself (not in the portal): --force tries it once more."""
    call_command("seed_demo", "--auth-url", k5sim.auth_url)
    project = K5Project.objects.get(name="demo-project-1")
    mark_credentials_invalid(project, K5CredentialError("The request you have made requires auth"))
    k5sim.clear_requests()
    with pytest.raises(CommandError, match="check again with --force"):
        call_command("k5project", "check", "demo-project-1")
    assert k5sim.request_counts().get("POST /identity/v3/auth/tokens") is None
    capsys.readouterr()
    call_command("k5project", "check", "demo-project-1", "--force")
    output = capsys.readouterr()
    assert "one more failed attempt" in output.err
    assert output.out.startswith("demo-project-1: OK - signed in as demo-user")
    assert k5sim.request_counts().get("POST /identity/v3/auth/tokens") == 1
    assert K5Project.objects.get(name="demo-project-1").credentials_valid


@pytest.mark.django_db
def test_remove_keeps_a_project_that_has_audit_history(k5sim):
    from django.contrib.auth.models import User

    from imaging.engine.submission import submit_job
    from imaging.engine.validation import Submission

    call_command("seed_demo", "--auth-url", k5sim.auth_url)
    project = K5Project.objects.get(name="demo-project-1")
    submit_job(
        Submission(
            project=project,
            volume_id="10000000-0000-4000-8000-000000000001",
            image_name="kept",
            preparation_confirmed=True,
        ),
        user=User.objects.get(username="demo"),
        channel="web",
    )
    with pytest.raises(CommandError, match="1 image job\\(s\\) in its audit history"):
        call_command("k5project", "remove", "demo-project-1")
    assert K5Project.objects.filter(name="demo-project-1").exists()
