import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from imaging.models import K5Project, Membership

ADD = [
    "add",
    "tokyo-web",
    "--region",
    "jp-east-1",
    "--contract",
    "C123",
    "--identity-url",
    "https://identity.jp-east-1.cloud.global.fujitsu.com/v3",
    "--project-id",
    "0123abcd",
    "--username",
    "svc-imager",
]


def k5project(*args, capsys=None) -> str:
    call_command("k5project", *args)
    return capsys.readouterr().out if capsys else ""


@pytest.mark.django_db
def test_add_takes_the_password_from_the_environment_and_stores_it_encrypted(monkeypatch, capsys):
    monkeypatch.setenv("K5_PASSWORD", "from-env-secret")
    out = k5project(*ADD, capsys=capsys)
    assert "added tokyo-web (jp-east-1)" in out
    project = K5Project.objects.get(name="tokyo-web")
    assert project.get_password() == "from-env-secret"
    assert "from-env-secret" not in project.password_encrypted
    assert (project.upload_limit, project.upload_window_seconds) == (4, 3600)


@pytest.mark.django_db
def test_add_prompts_when_the_environment_has_no_password(monkeypatch):
    monkeypatch.delenv("K5_PASSWORD", raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt: "typed-secret")
    k5project(*ADD)
    assert K5Project.objects.get().get_password() == "typed-secret"


@pytest.mark.django_db
def test_add_refuses_a_duplicate_name_and_a_bad_region(monkeypatch):
    monkeypatch.setenv("K5_PASSWORD", "pw")
    k5project(*ADD)
    with pytest.raises(CommandError, match="exists already"):
        k5project(*ADD)
    bad = [*ADD]
    bad[1], bad[3] = "other", "tokyo"
    with pytest.raises(CommandError, match="Regions look like jp-east-1"):
        k5project(*bad)


@pytest.mark.django_db
def test_list_grant_revoke_and_remove(monkeypatch, capsys):
    monkeypatch.setenv("K5_PASSWORD", "pw")
    k5project(*ADD)
    bob = User.objects.create_user("bob")
    assert "tokyo-web\tjp-east-1\tC123\t0123abcd\tsvc-imager\tv2\t4/3600s" in k5project(
        "list", capsys=capsys
    )
    k5project("grant", "tokyo-web", "bob", "--role", "viewer")
    k5project("grant", "tokyo-web", "bob", "--role", "admin")
    assert Membership.objects.get(user=bob).role == "admin"
    k5project("revoke", "tokyo-web", "bob")
    assert not Membership.objects.exists()
    with pytest.raises(CommandError, match="bob has no role in tokyo-web"):
        k5project("revoke", "tokyo-web", "bob")
    with pytest.raises(CommandError, match="no portal user named 'carol'"):
        k5project("grant", "tokyo-web", "carol", "--role", "member")
    k5project("remove", "tokyo-web")
    assert not K5Project.objects.exists()
    with pytest.raises(CommandError, match="no project named 'tokyo-web'"):
        k5project("set-password", "tokyo-web")


@pytest.mark.django_db
def test_set_password_replaces_the_stored_one(monkeypatch):
    monkeypatch.setenv("K5_PASSWORD", "old")
    k5project(*ADD)
    monkeypatch.setenv("K5_PASSWORD", "new")
    k5project("set-password", "tokyo-web")
    assert K5Project.objects.get().get_password() == "new"
