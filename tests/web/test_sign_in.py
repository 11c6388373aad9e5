"""Signing in and out, changing one's password, switching the language; every other page needs
a signed-in user."""

import pytest

from tests.web.page import Page, page

PAGES = [
    "/",
    "/projects/1/volumes/",
    "/projects/1/volumes/v/create-image/",
    "/jobs/",
    "/jobs/1/",
    "/audit/",
    "/profile/",
    "/accounts/password/",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_an_anonymous_visitor_to_sign_in_first(signed_in, db, url):
    response = signed_in(None).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


def test_bob_signs_in_and_lands_where_he_was_going(signed_in, project, bob):
    client = signed_in(None)
    form = page(client, "/accounts/login/", next="/jobs/")
    assert form.label_for("username") == "User name"
    assert form.label_for("password") == "Password"
    token = form.main.one("input", name="csrfmiddlewaretoken").attrs["value"]

    response = client.post(
        "/accounts/login/",
        {
            "username": "bob",
            "password": "bob-password-1",
            "next": "/jobs/",
            "csrfmiddlewaretoken": token,
        },
    )

    assert response.status_code == 302 and response["Location"] == "/jobs/"
    assert "bob" in page(client, "/jobs/").one("header").text


def test_a_wrong_password_is_refused_with_a_message(signed_in, project, bob):
    response = signed_in(None).post("/accounts/login/", {"username": "bob", "password": "no"})
    assert response.status_code == 200
    alert = Page(response).main.one("div", role="alert")
    assert "Please enter a correct username and password." in alert


def test_signing_out_is_a_button_not_a_link(signed_in, project, bob):
    client = signed_in(bob)
    header = page(client, "/").one("header")
    form = header.one("form", action="/accounts/logout/")
    assert form.attrs["method"] == "post" and form.one("button").text == "Sign out"
    assert client.get("/accounts/logout/").status_code == 405

    response = client.post("/accounts/logout/")

    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302, "signed out"


def test_bob_changes_his_password(signed_in, project, bob):
    client = signed_in(bob)
    page(client, "/accounts/password/")
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "bob-password-1",
            "new_password1": "a-new-long-passphrase-7",
            "new_password2": "a-new-long-passphrase-7",
        },
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.check_password("a-new-long-passphrase-7")


def test_the_language_switch_turns_the_pages_japanese(signed_in, project, bob):
    client = signed_in(bob)
    switch = page(client, "/jobs/").one("header").one("form", cls="language")
    assert switch.one("label", for_="language").text == "Language"
    assert [o.attrs["value"] for o in switch.all("option")] == ["en", "ja"]

    response = client.post("/i18n/setlang/", {"language": "ja", "next": "/jobs/"})

    assert response.status_code == 302 and response["Location"] == "/jobs/"
    assert page(client, "/jobs/").one("html").attrs["lang"] == "ja"


def test_a_disabled_user_is_signed_out_at_their_next_request(signed_in, project, bob):
    client = signed_in(None)
    client.post("/accounts/login/", {"username": "bob", "password": "bob-password-1"})
    assert client.get("/jobs/").status_code == 200

    bob.is_active = False
    bob.save()

    response = client.get("/jobs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_local_sign_in_lasts_twelve_hours_unless_configured(signed_in, project, bob):
    response = signed_in(None).post(
        "/accounts/login/", {"username": "bob", "password": "bob-password-1"}
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == 12 * 3600
