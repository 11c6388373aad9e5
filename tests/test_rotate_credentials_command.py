"""manage.py rotate_credentials: after it, the old key can go — every secret encrypted with
K5_CREDENTIAL_KEYS (the K5 password, the webhook URL and secret) reads with the new key alone."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from imaging.models import K5Project


@pytest.mark.django_db
def test_it_moves_every_secret_to_the_new_key(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.K5_CREDENTIAL_KEYS = [old_key]
    project = K5Project(
        name="p",
        region="jp-east-1",
        identity_url="https://identity.jp-east-1.cloud.global.fujitsu.com/v3",
        contract="c",
        k5_project_id="x",
        username="u",
    )
    project.set_password("k5-password")
    project.set_webhook_secret("webhook-secret")
    project.webhook_url = "https://hooks.example.com/services/T000/B000/secret-token"
    project.save()
    bare = K5Project.objects.create(
        name="q",
        region="jp-east-1",
        identity_url="https://identity.jp-east-1.cloud.global.fujitsu.com/v3",
        contract="c",
        k5_project_id="y",
        username="u",
        password_encrypted=project.password_encrypted,
    )

    settings.K5_CREDENTIAL_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("rotate_credentials", stdout=out)
    settings.K5_CREDENTIAL_KEYS = [new_key]

    project.refresh_from_db()
    assert project.get_password() == "k5-password"
    assert project.get_webhook_secret() == "webhook-secret"
    assert project.webhook_url == "https://hooks.example.com/services/T000/B000/secret-token"
    assert K5Project.objects.get(pk=bare.pk).webhook_secret_encrypted == ""
    assert out.getvalue() == "re-encrypted the credentials of 2 project(s)\n"
