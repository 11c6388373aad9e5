"""What one request may send: a page sent more than DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) answers
413 with a page naming the limit, before anything reads the body; the portal takes no files."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.web.page import Page

MB = 1024 * 1024


def test_the_sign_in_form_refuses_a_big_multipart_body_naming_the_limit(signed_in, project, bob):
    client = signed_in(None)
    response = client.post(
        "/accounts/login/",
        {
            "username": "bob",
            "password": "bob-password-1",
            "attachment": SimpleUploadedFile("big.bin", b"x" * (3 * MB)),
        },
    )

    assert response.status_code == 413
    alert = Page(response).main.one("p", role="alert").text
    assert alert == (
        "The request was 3.0 MB; the portal accepts at most 2.5 MB per request, and no files."
    )
    assert "_auth_user_id" not in client.session, "nothing was read, nobody signed in"


def test_the_limit_is_a_setting(signed_in, project, bob, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100 * 1024
    response = signed_in(bob).post(
        f"/projects/{project.pk}/volumes/v/create-image/", {"image_name": "x" * (200 * 1024)}
    )
    assert response.status_code == 413
    assert "at most 100.0 KB per request" in Page(response).main.one("p", role="alert").text


def test_a_file_is_refused_however_small(signed_in, project, bob):
    client = signed_in(None)
    response = client.post(
        "/accounts/login/",
        {
            "username": "bob",
            "password": "bob-password-1",
            "attachment": SimpleUploadedFile("small.txt", b"hello"),
        },
    )
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session
