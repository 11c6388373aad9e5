"""Japanese and English pages: a member switches the language with the header's form (a real
POST to Django's /i18n/setlang/) and sees the dashboard, the volumes, the create-image form,
the jobs and the audit history in Japanese; switching back gives English again. The API's
error messages stay English whatever the language. The Japanese catalog has no untranslated
or fuzzy entry, and the committed .mo is compiled from the committed .po."""

from __future__ import annotations

import ast
import gettext
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from imaging.models import ApiToken
from tests.support.demo import CENTOS_BROKEN, CENTOS_WEB, UBUNTU_FRONT

JA_PO = settings.BASE_DIR / "locale" / "ja" / "LC_MESSAGES" / "django.po"
JA_MO = JA_PO.with_suffix(".mo")


@pytest.fixture
def browser(bob) -> Client:
    """bob, signed in, in a browser that checks CSRF tokens as a real one would."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return unescape(response.content.decode())


def switch_language(client: Client, language: str, *, on: str = "/") -> str:
    """Submit the header's language form as the browser would: its action, its CSRF token,
    its hidden `next`, the chosen option. Returns the page it leads back to."""
    html = page(client, on)
    form = re.search(
        r'<form action="([^"]+)" method="post" class="inline language">(.*?)</form>', html, re.S
    )
    assert form, "the language form is in the header"
    action, body = form.groups()
    assert action == "/i18n/setlang/"
    assert f'<option value="{language}"' in body
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', body))
    response = client.post(action, {**fields, "language": language})
    assert response.status_code == 302
    assert response["Location"] == fields["next"] == on
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == language
    return page(client, response["Location"])


def test_a_member_switches_to_japanese_and_sees_every_page_in_japanese(browser, project):
    english = page(browser, "/")
    assert '<html lang="en">' in english and "Your K5 projects" in english

    dashboard = switch_language(browser, "ja")
    assert '<html lang="ja">' in dashboard
    for words in (
        "ダッシュボード",
        "参加している K5 プロジェクト",
        "アップロード枠",
        "メンバー",
        "過去 30 日間のジョブ結果",
        "K5 イメージポータル",
        "ログアウト",
        "この 1 時間のアップロード: ",
    ):
        assert words in dashboard, words
    assert "Your K5 projects" not in dashboard

    volumes = page(browser, f"/projects/{project.pk}/volumes/")
    assert '<html lang="ja">' in volumes
    for words in (
        "demo-project-1 のボリューム",
        "イメージ作成可否",
        "起動可能",
        "K5 から再取得",
        "件のボリュームを表示",
        # why a volume cannot be imaged, from the engine's rules
        "仮想サーバ front-01 のステータスが SHUTOFF ではなく ACTIVE です",
        "ボリュームのステータスが error です",
    ):
        assert words in volumes, words
    assert "not SHUTOFF" not in volumes and "Can be imaged" not in volumes

    url = f"/projects/{project.pk}/volumes/{CENTOS_WEB}/create-image/"
    form = page(browser, url)
    for words in (
        "イメージの作成",
        "イメージ名",
        "イメージ作成前の準備",
        "上記の準備を完了しました",
        "旧 NIC に結び付いたネットワーク設定",
    ):
        assert words in form, words

    # A refusal from the submission rules comes back next to its field, in Japanese.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    refused = browser.post(url, {"csrfmiddlewaretoken": token, "image_name": "web-golden"})
    assert refused.status_code == 200
    assert (
        "イメージ作成前の準備を確認してください: 旧 NIC に結び付いたネットワーク設定を削除した"
        in unescape(refused.content.decode())
    )

    queued = browser.post(
        url,
        {"csrfmiddlewaretoken": token, "image_name": "web-golden", "preparation_confirmed": "on"},
    )
    assert queued.status_code == 302
    job_page = page(browser, queued["Location"])
    for words in (
        "イメージ作成ジョブを登録しました: web-golden",
        "待機中",
        "アベイラビリティゾーン",
        "作成元ゾーン",
        "同期待ち",
        "履歴",
    ):
        assert words in job_page, words

    jobs = page(browser, "/jobs/")
    for words in ("イメージ作成ジョブ", "ジョブの絞り込み", "依頼者", "待機中", "web-golden"):
        assert words in jobs, words

    audit = page(browser, "/audit/")
    for words in ("監査履歴", "種別", "表示中の内容をエクスポート", "状態の変更"):
        assert words in audit, words
    assert '<html lang="ja">' in audit


def test_switching_back_to_english_gives_english_pages(browser, project):
    switch_language(browser, "ja")
    dashboard = switch_language(browser, "en")
    assert '<html lang="en">' in dashboard
    assert "Your K5 projects" in dashboard and "ダッシュボード" not in dashboard
    volumes = page(browser, f"/projects/{project.pk}/volumes/")
    assert "Volumes of demo-project-1" in volumes
    assert "The server front-01 is ACTIVE, not SHUTOFF" in volumes
    assert "のボリューム" not in volumes


def test_the_switch_returns_to_the_page_it_was_used_on(browser, project):
    volumes = switch_language(browser, "ja", on=f"/projects/{project.pk}/volumes/")
    assert "demo-project-1 のボリューム" in volumes


def test_api_errors_stay_english_for_a_japanese_client(client, bob, project):
    """Tools parse the API's messages: the language cookie or header must not change them."""
    _token, key = ApiToken.issue(bob, "tests")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    headers = {"HTTP_AUTHORIZATION": f"Token {key}", "HTTP_ACCEPT_LANGUAGE": "ja"}
    refused = client.post(
        "/api/v1/jobs/",
        {
            "project": project.pk,
            "volume_id": CENTOS_WEB,
            "image_name": "web-golden",
            "preparation_confirmed": False,
        },
        content_type="application/json",
        **headers,
    )
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "preparation_required"
    assert error["message"] == (
        "Confirm the preparation before imaging: the network settings "
        "tied to the old NIC were removed (CentOS, Ubuntu, RHEL)."
    )
    assert error["fields"] == {"preparation_confirmed": [error["message"]]}

    listed = client.get(f"/api/v1/projects/{project.pk}/volumes/", **headers)
    reasons = {volume["id"]: volume["ineligible_reason"] for volume in listed.json()}
    assert reasons[UBUNTU_FRONT].startswith("The server front-01 is ACTIVE, not SHUTOFF")
    assert reasons[CENTOS_BROKEN].startswith("The volume is error:")


# --- the catalog -----------------------------------------------------------------------------


def read_po(path: Path) -> list[dict]:
    """Entries of a .po file: flags, msgid, msgid_plural, msgstr / msgstr[n] (header skipped,
    obsolete `#~` entries ignored)."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict = {"flags": set()}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry[key] += ast.literal_eval(line)
            elif line:
                key, value = line.split(" ", 1)
                entry[key] = ast.literal_eval(value)
        if entry.get("msgid"):
            entries.append(entry)
    return entries


def untranslated(entries: list[dict]) -> list[str]:
    return [
        e["msgid"]
        for e in entries
        if not all(v for k, v in e.items() if k.startswith("msgstr"))
        or not any(k.startswith("msgstr") for k in e)
    ]


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)[sd]", text))


def test_the_japanese_catalog_translates_every_message_and_has_no_fuzzy_entry():
    text = JA_PO.read_text(encoding="utf-8")
    assert "fuzzy" not in text  # neither an entry nor the header
    assert '"Plural-Forms: nplurals=1; plural=0;\\n"' in text
    entries = read_po(JA_PO)
    assert len(entries) > 150
    assert untranslated(entries) == []
    for entry in entries:
        assert "msgstr[1]" not in entry, entry["msgid"]  # Japanese has one plural form
        for key in [k for k in entry if k.startswith("msgstr")]:
            assert placeholders(entry[key]) == placeholders(entry["msgid"]), entry["msgid"]


def test_the_committed_mo_is_compiled_from_the_committed_po():
    with JA_MO.open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)
    for entry in read_po(JA_PO):
        if "msgid_plural" in entry:
            assert catalog.ngettext(entry["msgid"], entry["msgid_plural"], 2) == entry["msgstr[0]"]
        else:
            assert catalog.gettext(entry["msgid"]) == entry["msgstr"], entry["msgid"]


@pytest.mark.skipif(
    not shutil.which("xgettext") or not shutil.which("msgmerge"),
    reason="GNU gettext is not installed (only needed to extract messages)",
)
def test_every_marked_string_in_the_code_is_in_the_japanese_catalog(
    tmp_path, settings, monkeypatch
):
    """Extract the messages from a copy of the sources into a copy of the catalog, as
    `manage.py makemessages -l ja` would: anything new must already be translated."""
    for name in ("imaging", "portal", "templates"):
        shutil.copytree(
            settings.BASE_DIR / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    catalog = tmp_path / "locale" / "ja" / "LC_MESSAGES" / "django.po"
    catalog.parent.mkdir(parents=True)
    shutil.copy(JA_PO, catalog)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["ja"], verbosity=0, no_obsolete=True)
    entries = read_po(catalog)
    missing = untranslated(entries) + [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert missing == [], "run makemessages -l ja and translate these"
