"""The browser tests' browser: Debian's chromium (/usr/bin/chromium, never a Playwright
download) driven by Playwright, headless, one per test module; `tab` is a fresh tab with its
own cookies; `portal` the live server's URL. Without chromium the tests are skipped with a
message saying how to install it — except in CI (CI=true), where a missing browser fails them.
Screenshots go to test-artifacts/screenshots/ (not committed) for people to look at.
"""

from __future__ import annotations

import os
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


@pytest.fixture
def tab(browser):
    """A fresh browser tab (own cookies) at desktop width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def screenshot(tab, name: str, *, full_page: bool = True) -> None:
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def portal(live_server):
    return live_server.url
