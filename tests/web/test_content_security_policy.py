"""The Content-Security-Policy: every page is sent with it, and no template needs what it
forbids (an inline <script>, an onclick=, a style=""). That the pages really run under it is
shown in a browser (tests/e2e/test_browser.py, whose tabs fail a test on any violation)."""

from __future__ import annotations

import re

import pytest

from tests.support.jobs import make_job
from tests.support.simulator import ROOT

STRICT = {
    "default-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = (part.strip().split(" ", 1) for part in header.split(";"))
    return {name: value for name, value in directives}


@pytest.mark.parametrize(
    "url",
    ["/", "/jobs/", "/audit/", "/profile/", "/accounts/password/", "/no-such-page/"],
)
def test_bobs_pages_are_sent_with_the_strict_policy(signed_in, project, bob, url):
    assert policy(signed_in(bob).get(url)) == STRICT


def test_the_sign_in_page_and_the_job_page_are_sent_with_it_too(signed_in, project, bob):
    job = make_job(project, bob)
    assert policy(signed_in(None).get("/accounts/login/")) == STRICT
    assert policy(signed_in(bob).get(f"/jobs/{job.pk}/")) == STRICT
    assert policy(signed_in(bob).get(f"/projects/{project.pk}/volumes/")) == STRICT


def test_the_admin_runs_under_the_strict_policy(signed_in, stella):
    # The admin's pages load their scripts from files (checked in a browser as well).
    assert policy(signed_in(stella).get("/admin/")) == STRICT


def test_the_browsable_api_alone_allows_inline_styles_and_its_json_does_not(
    signed_in, project, bob
):
    client = signed_in(bob)
    html = client.get("/api/v1/jobs/", HTTP_ACCEPT="text/html")
    assert html["Content-Type"].startswith("text/html")
    assert policy(html) == {**STRICT, "style-src": "'self' 'unsafe-inline'"}
    assert policy(client.get("/api/v1/jobs/", HTTP_ACCEPT="application/json")) == STRICT


def test_the_api_docs_load_their_start_up_script_from_a_url(signed_in, bob):
    client = signed_in(bob)
    docs = client.get("/api/docs/")
    assert policy(docs) == {**STRICT, "img-src": "'self' data:"}
    page = docs.content.decode()
    assert not re.search(r"<script>", page), "no inline script"
    assert not re.search(r"<style", page), "no <style> element"
    start = re.search(r'<script src="([^"]*script=[^"]*)"', page).group(1)
    script = client.get(start.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
FORBIDDEN = {
    "an inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "an inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "an inline style": re.compile(r"<[^>]*\sstyle\s*=|<style", re.I),
}
COMMENTS = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.S)  # never sent


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_no_template_holds_what_the_policy_forbids(template):
    text = COMMENTS.sub("", template.read_text())
    found = [what for what, pattern in FORBIDDEN.items() if pattern.search(text)]
    assert not found, f"{template.relative_to(ROOT)} holds {', '.join(found)}"
