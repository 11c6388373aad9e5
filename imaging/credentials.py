"""K5 service passwords at rest: Fernet-encrypted with keys from settings.

`K5_CREDENTIAL_KEYS` lists keys newest first: the first encrypts, every key decrypts, so a key
is rotated by putting a new one in front, running `manage.py rotate_credentials`, then
dropping the old one.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialUnreadable(Exception):
    """The stored secret was encrypted with a key that is no longer configured."""


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.K5_CREDENTIAL_KEYS])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "K5_CREDENTIAL_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes)"
        ) from exc


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialUnreadable(
            "the stored K5 password cannot be decrypted with K5_CREDENTIAL_KEYS"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    return _fernet().rotate(token.encode()).decode()
