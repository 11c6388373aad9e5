"""Rotating SECRET_KEY (docs/operations.md): with the old key in SECRET_KEY_FALLBACKS, people
who are signed in stay signed in; without it, they sign in again."""

from django.test import Client

OLD_KEY = "old-secret-key-" + "x" * 40
NEW_KEY = "new-secret-key-" + "y" * 40


def signed_in_under_the_old_key(settings, user) -> Client:
    settings.SECRET_KEY = OLD_KEY
    client = Client()
    client.force_login(user)
    assert client.get("/profile/").status_code == 200
    return client


def test_a_session_survives_the_new_key_while_the_old_one_is_a_fallback(settings, bob):
    client = signed_in_under_the_old_key(settings, bob)

    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = [OLD_KEY]

    assert client.get("/profile/").status_code == 200


def test_without_the_fallback_the_old_sessions_end(settings, bob):
    client = signed_in_under_the_old_key(settings, bob)

    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = []

    response = client.get("/profile/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
