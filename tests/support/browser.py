"""The browser tests' browser: Debian's chromium (/usr/bin/chromium, never a Playwright
download) driven by Playwright, headless, one per test module; `tab` is a fresh tab with its
own cookies; `portal` the live server's URL. Without chromium the tests are skipped with a
message saying how to install it — except in CI (CI=true), where a missing browser fails them.
Screenshots go to test-artifacts/screenshots/ (not committed) for people to look at.

Every page runs under the portal's Content-Security-Policy, and a test whose pages broke it
fails: `policy_watched` collects what the browser reports (its console line and the page's
`securitypolicyviolation` event) and asserts there was nothing when the context closes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.simulator import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL = "as root: apt-get update && apt-get install -y chromium  (bin/test does this as root)"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

# Added to every page before its own scripts (Playwright's init scripts are not subject to the
# page's policy): the event names the directive and what was blocked, where chromium's own
# console line may be cut short.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("Content Security Policy violation: " + event.violatedDirective + " blocked "
    + (event.blockedURI || "an inline one") + " in " + event.sourceFile + ":" + event.lineNumber);
});
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = (
            f"!!! BROWSER TESTS NOT RUN: Debian's chromium is not at {CHROMIUM}. "
            f"Install it {INSTALL}."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " CI must run the browser tests.", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on this thread; the ORM calls the tests make
    # between browser steps are plain synchronous calls, which Django would otherwise refuse.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def watch_policy(context) -> list[str]:
    """The Content-Security-Policy violations of every page opened in `context` from now on,
    as the browser reports them (one line each; the list grows while pages run)."""
    violations: list[str] = []

    def seen(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    context.add_init_script(REPORT_VIOLATIONS)
    context.on("console", seen)
    return violations


@contextlib.contextmanager
def policy_watched(browser, **options) -> Iterator:
    """A new browser context (own cookies; `options` as for `browser.new_context`) that fails
    the test, when it closes, if any of its pages broke the Content-Security-Policy."""
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    violations = watch_policy(context)
    try:
        yield context
    finally:
        context.close()
    assert not violations, "pages broke the Content-Security-Policy:\n" + "\n".join(violations)


@pytest.fixture
def tab(browser):
    """A fresh browser tab (own cookies) at desktop width, under the policy watch."""
    with policy_watched(browser, viewport={"width": 1280, "height": 900}) as context:
        yield context.new_page()


def screenshot(tab, name: str, *, full_page: bool = True) -> None:
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def portal(live_server):
    return live_server.url
