"""End to end in a real browser: Debian's chromium, driven by Playwright, against a live portal,
the K5 simulator and the job engine running in a background thread.

bob (a member of demo-project-1) signs in, picks an eligible volume, completes the checklist and
watches his job page update itself until the image is usable in every zone; a sync failure is
shown with its zone and reason, and the remedy button makes a usable image; an ineligible volume
says why; the volumes page shows K5's new list by itself once a worker has it; charlie (no
project) gets 404 for bob's job; the pages work at phone width.

K5 runs SPEED times faster than real, and the settle window (how long the engine watches for a
late zone failure) is SETTLE seconds, so a job takes seconds. Screenshots of the main pages go
to test-artifacts/screenshots/ (not committed) for people to look at.

The browser, the tab and the live portal are tests/support/browser.py's: Debian's
/usr/bin/chromium (never `playwright install`); without it these tests are skipped with a
message saying how to install it — except in CI (CI=true), where a missing browser fails them.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from imaging import dispatch, tasks
from imaging.models import ImageJob, JobState, K5Project
from tests.support.browser import policy_watched, screenshot, watch_policy
from tests.support.demo import (
    CENTOS_BROKEN,
    CENTOS_WEB,
    DATA_SMALL,
    RHEL_ARCHIVE,
    UBUNTU_APP,
    UBUNTU_FRONT,
    WIN_APP,
    WIN_APP_SERVER,
)
from tests.support.engine_thread import EngineThread
from tests.support.jobs import make_job

SPEED = 200  # a 30 GB upload takes 2.1 s, registration to the other zone 0.6 s
SETTLE = 2.0  # seconds the engine watches an active image for a zone failure
JOB_TIMEOUT = 45_000  # ms: the job page refreshes itself every 5 s


# --- the portal, K5 and the engine ----------------------------------------------------------
# The cast is tests/support/cast.py's (bob a member of demo-project-1, charlie of no project),
# with tests/e2e/conftest.py's project on the sped-up simulator.


@pytest.fixture
def speed() -> int:
    return SPEED


@pytest.fixture(autouse=True)
def short_settle(settings):
    settings.ENGINE_SYNC_SETTLE_BASE_SECONDS = SETTLE
    settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB = 0


@pytest.fixture
def engine(project, monkeypatch):
    """The engine ticking in a background thread, running the tasks the portal enqueues."""
    thread = EngineThread()
    monkeypatch.setattr("imaging.dispatch.async_task", thread.async_task)
    thread.start()
    yield thread
    thread.stop()
    assert not thread.errors, "\n".join(thread.errors)


# --- steps as a member takes them ---------------------------------------------------------------


def sign_in(tab, portal: str, user: str, *, next_url: str = "/") -> None:
    tab.goto(f"{portal}/accounts/login/?next={next_url}")
    tab.fill("#id_username", user)
    tab.fill("#id_password", f"{user}-password-1")
    tab.click("#content button[type=submit]")  # the header has the language button too
    tab.wait_for_url(lambda url: "/accounts/login/" not in url)


def open_volumes(tab, portal: str, project: K5Project) -> None:
    tab.get_by_role("link", name=project.name).click()
    tab.wait_for_url(f"{portal}/projects/{project.pk}/volumes/")


def volume_row(tab, volume_id: str):
    return tab.locator(f"[id='volume-{volume_id}']")


def job_state(tab):
    return tab.locator("#job-live h1 .state")


def zone_rows(tab) -> dict[str, str]:
    rows = tab.locator("#job-live table.zones tbody tr")
    found = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        found[cells.nth(0).inner_text()] = cells.nth(2).inner_text()
    return found


def wait_for_state(tab, label: str) -> None:
    """Wait — without reloading — for the job page to show `label` (it refreshes itself)."""
    from playwright.sync_api import expect

    expect(job_state(tab)).to_have_text(label, timeout=JOB_TIMEOUT)


# --- the tests --------------------------------------------------------------------------------


def test_bob_creates_an_image_and_watches_it_become_usable_in_every_zone(
    tab, portal, project, bob, engine
):
    sign_in(tab, portal, "bob")
    assert tab.locator("h1").inner_text() == "Dashboard"
    assert "0 of 4 uploads used" in tab.locator("#content table").inner_text()
    screenshot(tab, "01-dashboard")

    open_volumes(tab, portal, project)
    row = volume_row(tab, CENTOS_WEB)
    assert "centos-web-01" in row.inner_text() and "yes" in row.inner_text()
    screenshot(tab, "02-volumes")
    row.get_by_role("link", name=re.compile("^Create image")).click()

    tab.wait_for_url(re.compile(r"/create-image/$"))
    assert re.fullmatch(r"centos-web-01-\d{8}-\d{4}", tab.input_value("#id_image_name"))
    assert (
        "Remove the network settings tied to the old NIC"
        in tab.locator("ul.checklist").inner_text()
    )
    assert "Your upload can start now." in tab.locator("#content").inner_text()
    tab.fill("#id_image_name", "web-golden")
    tab.check("#id_preparation_confirmed")
    screenshot(tab, "03-create-form")
    tab.get_by_role("button", name="Create image").click()

    tab.wait_for_url(re.compile(r"/jobs/\d+/$"))
    assert "Image job queued: web-golden" in tab.locator("#content").inner_text()
    assert job_state(tab).inner_text() != "Succeeded", "the page opens on a running job"
    screenshot(tab, "04-job-running")
    tab.evaluate("window.notReloaded = true")

    wait_for_state(tab, "Succeeded")

    assert tab.evaluate("window.notReloaded") is True, "the page updated itself in place"
    assert tab.locator("#job-announce").inner_text() == "web-golden Succeeded", (
        "the change of state is announced to screen readers"
    )
    assert zone_rows(tab) == {"jp-east-1a": "Synced", "jp-east-1b": "Synced"}
    job = ImageJob.objects.get()
    assert job.image_id and job.image_id in tab.locator("#job-live dl.ids").inner_text()
    assert (
        "The image is active and registered to every availability zone."
        in tab.locator("#job-live ol.timeline").inner_text()
    )
    assert tab.locator("#job-live progress").get_attribute("value") == "1.000"
    screenshot(tab, "05-job-succeeded")

    tab.get_by_role("link", name="Jobs", exact=True).click()
    assert "web-golden" in tab.locator("#content table").inner_text()
    assert "Succeeded" in tab.locator("#content table").inner_text()
    screenshot(tab, "06-jobs-list")
    tab.get_by_role("link", name="Audit", exact=True).click()
    assert "Requested image “web-golden”" in tab.locator("#content table").inner_text()
    screenshot(tab, "07-audit")


def test_a_sync_failure_shows_the_zone_and_the_remedy_makes_a_usable_image(
    tab, portal, sim, project, bob, engine
):
    sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    sign_in(tab, portal, "bob", next_url=f"/projects/{project.pk}/volumes/")
    volume_row(tab, DATA_SMALL).get_by_role("link", name=re.compile("^Create image")).click()
    tab.wait_for_url(re.compile(r"/create-image/$"))
    tab.fill("#id_image_name", "data-img")
    tab.select_option("#id_os_family", label="Linux (CentOS, Ubuntu, RHEL)")
    tab.check("#id_preparation_confirmed")
    tab.get_by_role("button", name="Create image").click()
    tab.wait_for_url(re.compile(r"/jobs/\d+/$"))

    wait_for_state(tab, "Sync failed")

    zones = zone_rows(tab)
    assert zones["jp-east-1a"] == "Synced"
    assert zones["jp-east-1b"].startswith("Failed")
    assert "server(http://192.0.2.12:9292)" in zones["jp-east-1b"]
    problem = tab.locator("#job-live section.bad")
    assert "registering it to availability zone jp-east-1b failed" in problem.inner_text()
    detail = problem.locator("details pre")
    assert not detail.is_visible(), "K5's raw detail waits behind its toggle"
    problem.get_by_text("K5's detail").click()
    assert detail.inner_text().startswith("ERROR:A timeout occurred during synchronize image")
    screenshot(tab, "08-job-sync-failed")
    failed = ImageJob.objects.get()

    tab.get_by_role("button", name="Delete the image and create it again").click()
    tab.wait_for_url(re.compile(r"/jobs/\d+/retry/"))
    assert (
        "will be deleted just before the new upload is sent"
        in tab.locator("#retry-consequence").inner_text()
    )
    tab.get_by_role("button", name="Delete the image and create it again").click()

    tab.wait_for_url(re.compile(r"/jobs/\d+/$"))
    retry = ImageJob.objects.get(retry_of=failed)
    assert tab.url.endswith(f"/jobs/{retry.pk}/")
    assert (
        f"Retrying as job {retry.pk}; the old image {failed.image_id} is deleted just before the "
        "new upload is sent." in tab.locator("#content").inner_text()
    )
    wait_for_state(tab, "Succeeded")
    assert zone_rows(tab) == {"jp-east-1a": "Synced", "jp-east-1b": "Synced"}
    images = {image["id"] for image in sim.state()["images"]}
    assert failed.image_id not in images, "the unusable image is gone from K5"
    assert ImageJob.objects.get(pk=retry.pk).image_id in images
    screenshot(tab, "09-job-remedied")


def test_an_ineligible_volume_shows_why_and_offers_no_create_button(tab, portal, project, bob):
    sign_in(tab, portal, "bob", next_url=f"/projects/{project.pk}/volumes/?eligible=no")
    reasons = {
        CENTOS_BROKEN: "The volume is error: only an available volume, or an in-use one with "
        "force, can be imaged.",
        RHEL_ARCHIVE: "This volume is already being uploaded to an image; wait until it is "
        "available again.",
        UBUNTU_FRONT: "The server front-01 is ACTIVE, not SHUTOFF: stop its OS first, or "
        "confirm that the OS is stopped.",
    }
    for volume_id, reason in reasons.items():
        row = volume_row(tab, volume_id)
        assert row.locator(".reason").inner_text() == reason
        assert row.locator(".badge").inner_text() == "no"
    for volume_id in (CENTOS_BROKEN, RHEL_ARCHIVE):
        assert volume_row(tab, volume_id).get_by_role("link").count() == 0
    screenshot(tab, "10-volumes-ineligible")


def test_the_volumes_page_shows_the_new_list_by_itself_once_the_worker_has_it(
    tab, portal, sim, project, bob, settings, monkeypatch
):
    from playwright.sync_api import expect

    settings.K5_INVENTORY_MIN_SECONDS = 0  # the refresh button asks again at once
    sign_in(tab, portal, "bob", next_url=f"/projects/{project.pk}/volumes/")
    assert volume_row(tab, CENTOS_WEB).count() == 1, "the first list is there"
    asked = []  # the worker is held back until the page says it is refreshing
    monkeypatch.setattr(dispatch, "enqueue", lambda task, *args: asked.append((task, args)))

    tab.get_by_role("button", name="Refresh from K5").click()
    expect(tab.locator("#inventory-status")).to_contain_text("refreshing…")
    assert asked == [(dispatch.REFRESH_INVENTORY, (project.pk,))]
    [late] = sim.control(
        "POST", "projects/demo-project-1/volumes", json={"count": 1, "name_prefix": "late-"}
    ).json()["ids"]
    tasks.refresh_inventory(project.pk)  # the worker lists K5 again

    # No reload by the test: inventory.js asks every 2 s and shows the new list when it is in.
    expect(volume_row(tab, late)).to_contain_text("late-00001", timeout=15_000)
    expect(tab.locator("#inventory-status")).not_to_contain_text("refreshing…")


def test_charlie_gets_not_found_for_bobs_job(tab, portal, project, bob, charlie):
    job = make_job(project, bob, image_name="bobs-secret-image")
    sign_in(tab, portal, "charlie")
    response = tab.goto(f"{portal}/jobs/{job.pk}/")
    assert response.status == 404
    assert tab.locator("h1").inner_text() == "Not found"
    assert "bobs-secret-image" not in tab.content()
    screenshot(tab, "11-not-found")


def test_a_job_page_left_open_after_signing_out_goes_to_sign_in(tab, portal, project, bob):
    job = make_job(project, bob, image_name="left-open")  # queued: the page keeps refreshing
    sign_in(tab, portal, "bob", next_url=f"/jobs/{job.pk}/")
    assert job_state(tab).inner_text() == "Queued"

    tab.context.clear_cookies()  # signed out elsewhere, or the session ran out

    tab.wait_for_url(f"{portal}/accounts/login/?next=/jobs/{job.pk}/", timeout=15_000)
    assert tab.locator("header.site-header").count() == 1, "no sign-in page inside the job page"


def test_at_phone_width_the_volumes_table_reads_and_the_create_button_is_reachable(
    browser, portal, project, bob
):
    with policy_watched(browser, viewport={"width": 375, "height": 800}) as context:
        tab = context.new_page()
        sign_in(tab, portal, "bob", next_url=f"/projects/{project.pk}/volumes/")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375, (
            "nothing sticks out sideways"
        )
        row = volume_row(tab, CENTOS_WEB)
        box = row.bounding_box()
        assert box["width"] <= 375
        labels = row.locator("td").evaluate_all(
            "cells => cells.map(c => getComputedStyle(c, '::before').content)"
        )
        assert labels[:4] == ['"Choose"', '"Name"', '"Size"', '"Status"'], (
            "each value says what it is"
        )
        screenshot(tab, "12-volumes-phone", full_page=False)  # what the phone shows first

        create = row.get_by_role("link", name=re.compile("^Create image"))
        create.scroll_into_view_if_needed()
        screenshot(tab, "13-volumes-phone-row", full_page=False)
        button = create.bounding_box()
        assert button["x"] >= 0 and button["x"] + button["width"] <= 375
        create.click()
        tab.wait_for_url(re.compile(r"/create-image/$"))
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375
        submit = tab.get_by_role("button", name="Create image")
        submit.scroll_into_view_if_needed()
        box = submit.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        screenshot(tab, "14-create-form-phone", full_page=False)


# --- the Content-Security-Policy ----------------------------------------------------------------
# Every test above runs under it too: its tab fails the test on any violation.


def visit(tab, url: str) -> None:
    response = tab.goto(url)
    assert response.status in (200, 404), (url, response.status)
    tab.wait_for_load_state("networkidle")  # the scripts ran, the images and fetches are in


def test_every_page_runs_under_the_content_security_policy(browser, portal, project, bob):
    running = make_job(project, bob, image_name="running-img")
    finished = make_job(project, bob, volume_id=DATA_SMALL, image_name="finished-img")
    finished.transition(JobState.CANCELLED, message="Cancelled by bob.", actor=bob)
    root = User.objects.create_superuser("root", password="root-password-1")
    with policy_watched(browser, viewport={"width": 1280, "height": 900}) as context:
        tab = context.new_page()
        sign_in(tab, portal, "bob")
        for path in (
            "/",  # with the chart and its legend
            f"/projects/{project.pk}/volumes/",
            f"/projects/{project.pk}/volumes/{CENTOS_WEB}/create-image/",
            f"/jobs/{running.pk}/",  # refreshes itself
            f"/jobs/{finished.pk}/",
            "/jobs/",
            "/audit/",
            "/profile/",
            "/accounts/password/",
            "/api/v1/jobs/",  # DRF's browsable API
            f"/api/v1/jobs/{running.pk}/",
            "/no-such-page/",
        ):
            visit(tab, portal + path)
        visit(tab, f"{portal}/api/docs/")
        tab.locator(".swagger-ui .info").wait_for()  # Swagger UI started: its script ran
        tab.locator(".opblock-summary").first.click()
        tab.wait_for_load_state("networkidle")

        context.clear_cookies()
        sign_in(tab, portal, "root", next_url="/admin/")
        for path in (
            "/admin/",
            "/admin/imaging/imagejob/",
            f"/admin/imaging/imagejob/{running.pk}/change/",
            "/admin/imaging/k5project/add/",
            f"/admin/auth/user/{root.pk}/change/",
            f"/admin/auth/user/{root.pk}/password/",
        ):
            visit(tab, portal + path)


def test_a_page_that_broke_the_policy_would_fail_the_browser_tests(browser, portal):
    context = browser.new_context()
    try:
        violations = watch_policy(context)
        tab = context.new_page()
        tab.goto(f"{portal}/accounts/login/")
        with tab.expect_console_message(lambda m: "Content Security Policy" in m.text):
            tab.evaluate(
                """() => {
                  const script = document.createElement("script");
                  script.textContent = "window.ran = true";
                  document.body.append(script);
                }"""
            )
        assert tab.evaluate("window.ran") is None, "the browser refused the inline script"
        assert violations and "script-src" in "\n".join(violations)
    finally:
        context.close()


ROUND_TRIP_STEPS = [
    "snapshot",
    "await_shutdown",
    "upload",
    "restore_snapshot",
    "start_server",
    "delete_snapshot",
]


def step_states(tab) -> dict[str, str]:
    items = tab.locator("#job-live [data-step]")
    return {
        items.nth(i).get_attribute("data-step"): items.nth(i).get_attribute("data-state")
        for i in range(items.count())
    }


def test_bob_takes_a_windows_server_round_trip_and_watches_its_steps(
    tab, portal, sim, project, bob, engine
):
    from playwright.sync_api import expect

    sign_in(tab, portal, "bob", next_url=f"/projects/{project.pk}/volumes/")
    volume_row(tab, WIN_APP).get_by_role("link", name=re.compile("^Create image")).click()
    tab.wait_for_url(re.compile(r"/create-image/$"))
    tab.fill("#id_image_name", "win-golden")
    tab.check("#id_automation_sysprep_round_trip")
    screenshot(tab, "21-round-trip-form")
    tab.get_by_role("button", name="Create image").click()
    tab.wait_for_url(re.compile(r"/jobs/\d+/$"))
    tab.evaluate("window.notReloaded = true")

    # The snapshot comes first; then the page says what to run, and waits.
    sysprep = tab.locator("#sysprep")
    expect(sysprep).to_be_visible(timeout=JOB_TIMEOUT)
    assert tab.locator("#sysprep-command").inner_text() == (
        "C:\\Windows\\System32\\Sysprep\\sysprep.exe /generalize /oobe /shutdown"
    )
    expect(tab.locator("[data-step=await_shutdown]")).to_have_attribute("data-state", "running")
    assert step_states(tab)["snapshot"] == "done"
    assert step_states(tab)["upload"] == "pending"
    assert (
        "never started while its restore has not succeeded"
        in tab.locator("#never-started").inner_text()
    )
    screenshot(tab, "22-round-trip-awaiting-shutdown")

    sim.control("POST", f"servers/{WIN_APP_SERVER}/sysprep")  # Sysprep's /shutdown
    wait_for_state(tab, "Succeeded")

    assert tab.evaluate("window.notReloaded") is True, "the steps moved on in place"
    assert step_states(tab) == dict.fromkeys(ROUND_TRIP_STEPS, "done")
    assert sysprep.count() == 0, "the instructions go once the server is shut down"
    [start] = sim.control("GET", f"servers/{WIN_APP_SERVER}").json()["starts"]
    assert start["content"] == "original"
    screenshot(tab, "23-round-trip-succeeded")


def test_bob_images_two_volumes_at_once_and_watches_the_batch_page(
    tab, portal, project, bob, engine
):
    sign_in(tab, portal, "bob", next_url=f"/projects/{project.pk}/volumes/")
    tab.get_by_role("button", name="Select all eligible").click()
    eligible = tab.locator("input[name=volume_ids][data-eligible]")
    assert eligible.count() > 2
    assert all(eligible.nth(i).is_checked() for i in range(eligible.count()))
    running = tab.locator("input[name=volume_ids]:not([data-eligible])")
    assert running.count() > 0, "volumes on running servers can be chosen for stop/start"
    assert not any(running.nth(i).is_checked() for i in range(running.count()))
    tab.get_by_role("button", name="Select all eligible").click()  # again: none
    assert not any(eligible.nth(i).is_checked() for i in range(eligible.count()))

    volume_row(tab, CENTOS_WEB).locator("input[name=volume_ids]").check()
    volume_row(tab, UBUNTU_APP).locator("input[name=volume_ids]").check()
    tab.fill("#b-template", "{volume}-batch")
    tab.check("#b-preparation")
    screenshot(tab, "10-batch-choose")
    tab.get_by_role("button", name="Create images of the chosen volumes").click()

    tab.wait_for_url(re.compile(r"/batches/\d+/$"))
    assert "2 image job(s)" in tab.locator("#content").inner_text()
    jobs = tab.locator("#batch-jobs").inner_text()
    assert "centos-web-01-batch" in jobs and "ubuntu-app-01-batch" in jobs
    tab.evaluate("window.notReloaded = true")
    from playwright.sync_api import expect

    expect(tab.locator("#batch-live h1 .state")).to_have_text("Succeeded", timeout=JOB_TIMEOUT)
    assert tab.evaluate("window.notReloaded") is True, "the page updated itself in place"
    assert tab.locator("#batch-counts tbody").inner_text().split() == ["Succeeded", "2"]
    assert tab.locator("#batch-expected-end").count() == 0, "nothing left to wait for"
    screenshot(tab, "11-batch-succeeded")


def test_a_japanese_reader_follows_a_sync_failure_in_japanese(
    tab, portal, sim, project, bob, engine
):
    """Everything the engine wrote about the job reads in Japanese, K5's own words as K5
    wrote them; the screenshots use the machine's Japanese font (fonts-noto-cjk, which
    bin/test installs where it can)."""
    from tests.support.jobs import submit

    sim.add_fault(kind="sync_failure", zone="jp-east-1b")
    sign_in(tab, portal, "bob")
    tab.select_option("#language", "ja")
    tab.locator("form.language button[type=submit]").click()
    tab.wait_for_load_state()
    assert tab.locator("html").get_attribute("lang") == "ja"

    job = submit(project, bob, CENTOS_WEB, "web-golden")
    tab.goto(f"{portal}/jobs/{job.pk}/")
    wait_for_state(tab, "同期失敗")

    history = tab.locator("#content").inner_text()
    assert "ボリューム centos-web-01 からイメージ「web-golden」の作成を依頼しました。" in history
    problem = tab.locator("#job-live section.bad").inner_text()
    assert "アベイラビリティゾーン jp-east-1b" in problem
    assert "Sync failed" not in tab.locator("#content").inner_text()
    screenshot(tab, "31-job-sync-failed-ja")
