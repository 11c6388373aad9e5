"""The profile page: bob's API tokens — a new key shown once, and disabling one."""

from zoneinfo import ZoneInfo

from imaging.models import ApiToken
from tests.web.page import Page, page


def tokens_table(view):
    tables = view.main.all("table")
    return view.table_rows(tables[0]) if tables else []


def create_token(client, **data) -> Page:
    response = client.post("/profile/", data)
    assert response.status_code == 200
    return Page(response)


def api_answer(key: str) -> int:
    from django.test import Client

    return Client().get("/api/v1/projects/", headers={"Authorization": f"Token {key}"}).status_code


def test_bob_creates_a_token_and_sees_its_key_once(signed_in, project, bob):
    client = signed_in(bob)
    created = create_token(client, name="CI pipeline", expires_days="30")

    key = created.main.one("code", id_="new-key").text
    assert "Copy it now: it is shown only once." in created.main
    rows = tokens_table(created)
    assert [
        (row["Key starts with"], row["For"], row["State"], row["Last used"]) for row in rows
    ] == [(f"{key[:8]}…", "CI pipeline", "active", "never")]
    assert rows[0]["Expires"] != "never"
    assert created.response["Cache-Control"] == "no-store"
    assert api_answer(key) == 200, "the key works with the API at once"

    again = page(client, "/profile/")
    assert not again.main.has("code", id_="new-key")
    assert key not in again.html
    assert tokens_table(again)[0]["Last used"] != "never"


def test_a_token_without_expiry_says_never(signed_in, project, bob):
    created = create_token(signed_in(bob), name="laptop")
    row = tokens_table(created)[0]
    assert (row["Expires"], row["Last used"]) == ("never", "never")


def test_a_token_needs_a_name_and_a_sensible_expiry(signed_in, project, bob):
    client = signed_in(bob)
    nameless = create_token(client, name="")
    assert not nameless.main.has("code", id_="new-key")
    assert "This field is required." in nameless.main.one("form", id_="token-form")
    too_short = create_token(client, name="x", expires_days="0")
    assert "Ensure this value is greater than or equal to 1." in too_short.main
    assert not ApiToken.objects.exists()


def test_bob_disables_his_token_and_the_api_refuses_it(signed_in, project, bob):
    client = signed_in(bob)
    key = create_token(client, name="old tool").main.one("code", id_="new-key").text
    token = ApiToken.objects.get()

    response = client.post("/profile/", {"disable": str(token.pk)})

    assert response.status_code == 302 and response["Location"] == "/profile/"
    view = page(client, "/profile/")
    assert "The token was disabled." in view.messages
    assert tokens_table(view)[0]["State"] == "disabled"
    assert not view.main.one("table").has("button"), "nothing left to disable"
    assert api_answer(key) == 401


def test_bob_cannot_disable_alices_token(signed_in, project, alice, bob):
    _token, key = ApiToken.issue(alice, "alice's tool")
    client = signed_in(bob)
    client.post("/profile/", {"disable": str(_token.pk)})
    assert api_answer(key) == 200
    assert "alice's tool" not in page(client, "/profile/").main


def test_the_token_form_needs_the_csrf_token(signed_in, project, bob):
    response = signed_in(bob, enforce_csrf_checks=True).post("/profile/", {"name": "x"})
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_every_control_has_a_label(signed_in, project, bob):
    view = page(signed_in(bob), "/profile/")
    assert view.label_for("name") == "What is it for?"
    assert view.label_for("expires_days") == "Expires after (days)"


def test_bob_saves_japanese_and_tokyo_and_the_portal_reads_so_everywhere(signed_in, project, bob):
    from imaging.models import Preference

    client = signed_in(bob)
    form = page(client, "/profile/")
    assert 'name="pref-language"' in form.html and 'name="pref-time_zone"' in form.html
    assert '<option value="UTC" selected>' in form.html, "the portal's zone until bob picks one"

    response = client.post(
        "/profile/", {"preferences": "1", "pref-language": "ja", "pref-time_zone": "Asia/Tokyo"}
    )
    assert response.status_code == 302
    saved = Preference.objects.get(user=bob)
    assert (saved.language, saved.time_zone) == ("ja", "Asia/Tokyo")

    ApiToken.issue(bob, "nightly")
    token = ApiToken.objects.get(user=bob, name="nightly")
    again = page(client, "/profile/")
    assert '<html lang="ja">' in again.html and "API トークン" in again.html
    tokyo = token.created_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert tokyo.strftime("%Y-%m-%d %H:%M") in again.html, "times in bob's zone"

    # A new browser, no language cookie: bob's saved language still.
    fresh = signed_in(bob)
    assert '<html lang="ja">' in page(fresh, "/").html


def test_the_headers_language_switch_also_saves_the_language(signed_in, project, bob):
    from imaging.models import Preference

    client = signed_in(bob)
    response = client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    assert response.status_code == 302
    assert Preference.objects.get(user=bob).language == "ja"
