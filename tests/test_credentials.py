import pytest
from cryptography.fernet import Fernet

from imaging import credentials
from imaging.models import K5Project


def make_project(**fields) -> K5Project:
    defaults = dict(
        name="p",
        region="jp-east-1",
        identity_url="http://127.0.0.1/identity/v3",
        contract="demo",
        k5_project_id="abc",
        username="u",
    )
    return K5Project(**(defaults | fields))


@pytest.mark.django_db
def test_the_password_is_stored_encrypted_and_read_back(settings):
    project = make_project()
    project.set_password("s3cret-pass")
    project.save()
    stored = K5Project.objects.values_list("password_encrypted", flat=True).get()
    assert "s3cret-pass" not in stored
    assert K5Project.objects.get().get_password() == "s3cret-pass"


def test_a_rotated_key_still_reads_old_secrets_and_rotation_moves_them(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.K5_CREDENTIAL_KEYS = [old_key]
    token = credentials.encrypt("pw")
    settings.K5_CREDENTIAL_KEYS = [new_key, old_key]
    assert credentials.decrypt(token) == "pw"
    rotated = credentials.rotate(token)
    settings.K5_CREDENTIAL_KEYS = [new_key]
    assert credentials.decrypt(rotated) == "pw"
    with pytest.raises(credentials.CredentialUnreadable, match="cannot be decrypted"):
        credentials.decrypt(token)
