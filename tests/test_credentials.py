import pytest
from cryptography.fernet import Fernet

from imaging import credentials
from imaging.models import K5Project


def test_the_password_is_stored_encrypted_and_read_back(project):
    project.set_password("s3cret-pass")
    project.save()
    stored = K5Project.objects.values_list("password_encrypted", flat=True).get(pk=project.pk)
    assert "s3cret-pass" not in stored
    assert K5Project.objects.get(pk=project.pk).get_password() == "s3cret-pass"


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
