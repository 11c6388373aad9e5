"""Signing in with a K5 account, in a real browser (tests/support/browser.py) against a live
portal and the K5 simulator.

view-user holds, in K5: `reader` in demo-project-1, `_member_` in demo-project-2 and in
demo-project-3 (which the portal has not registered), and `auditor` (mapped to nothing) in
demo-project-2 as well. Signed in, they see demo-project-1 as a viewer and demo-project-2 as a
member, and nothing else. A K5 administrator then takes `reader` away: the next sign-in removes
the membership, and the audit says so. Four wrong passwords for lock-user: K5 is asked three
times (the simulator's request log), the fourth attempt is refused by the portal with the
reason. Local accounts sign in as before.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from imaging.models import K5Project
from tests.support.browser import screenshot
from tests.support.cast import bound_project
from tests.support.demo import LOCK_USER, LOCK_USER_ID, VIEW_PASSWORD, VIEW_USER, demo_scenario

ROLE_MAP = {"admin": "admin", "_member_": "member", "member": "member", "reader": "viewer"}


@pytest.fixture
def speed() -> int:
    """K5 at its own pace: its lockout counts over a real 15 minutes."""
    return 1


@pytest.fixture
def sim(k5sim):
    scenario = demo_scenario()
    scenario["projects"].append({"name": "demo-project-3", "domain": "demo"})
    view_user = next(u for u in scenario["users"] if u["name"] == VIEW_USER)
    view_user["projects"] = [
        {"project": "demo-project-1", "roles": ["reader"]},
        {"project": "demo-project-2", "roles": ["_member_", "auditor"]},
        {"project": "demo-project-3", "roles": ["_member_"]},
    ]
    k5sim.reset(scenario=scenario)
    return k5sim


@pytest.fixture
def other_project(project, sim) -> K5Project:
    return bound_project(sim, "demo-project-2")


@pytest.fixture(autouse=True)
def k5_login(settings):
    settings.K5_LOGIN = True
    settings.K5_ROLE_MAP = dict(ROLE_MAP)


def k5_sign_in(tab, portal: str, username: str, password: str) -> None:
    tab.goto(f"{portal}/accounts/login/")
    k5 = tab.locator("#k5-sign-in")
    k5.get_by_label("Contract").fill("demo")
    k5.get_by_label("K5 user name").fill(username)
    k5.get_by_label("K5 password").fill(password)
    k5.get_by_role("button", name="Sign in with K5").click()
    tab.wait_for_load_state()


def sign_out(tab) -> None:
    tab.locator("header").get_by_role("button", name="Sign out").click()
    tab.wait_for_url("**/accounts/login/")


def my_projects(tab) -> list[tuple[str, str]]:
    rows = tab.locator("#content table").first.locator("tbody tr")
    return [
        (
            rows.nth(i).locator("td").nth(0).inner_text(),
            rows.nth(i).locator("td").nth(2).inner_text(),
        )
        for i in range(rows.count())
    ]


def test_a_k5_user_sees_exactly_their_mapped_projects_and_loses_one_when_k5_takes_the_role(
    tab, portal, sim, project, other_project, stella
):
    tab.goto(f"{portal}/accounts/login/")
    expect(tab.locator("#k5-sign-in h2")).to_have_text("Sign in with your K5 account")
    screenshot(tab, "k5-01-sign-in")

    k5_sign_in(tab, portal, VIEW_USER, VIEW_PASSWORD)

    expect(tab.locator("h1")).to_have_text("Dashboard")
    expect(tab.locator("header")).to_contain_text("demo/view-user")
    assert my_projects(tab) == [("demo-project-1", "viewer"), ("demo-project-2", "member")]
    screenshot(tab, "k5-02-dashboard")

    sim.control("DELETE", f"users/{VIEW_USER}/projects/demo-project-1/roles/reader")
    sign_out(tab)
    k5_sign_in(tab, portal, VIEW_USER, VIEW_PASSWORD)

    expect(tab.locator("h1")).to_have_text("Dashboard")
    assert my_projects(tab) == [("demo-project-2", "member")]
    tab.goto(f"{portal}/projects/{project.pk}/volumes/")
    expect(tab.locator("h1")).not_to_contain_text("demo-project-1")

    # An operator reads the project's audit history.
    sign_out(tab)
    tab.fill("#id_username", "stella")
    tab.fill("#id_password", "stella-password-1")
    tab.locator("#content form").first.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{portal}/")
    tab.goto(f"{portal}/audit/?project={project.pk}&kind=access")
    events = tab.locator("table.events tbody")
    expect(events).to_contain_text(
        "demo/view-user no longer belongs to the project: at a K5 sign-in, nothing gave a "
        "portal role (K5 roles: none)."
    )
    expect(events).to_contain_text(
        "demo/view-user joined the project as viewer through a K5 sign-in (K5 roles: reader)."
    )
    expect(events.locator("tr").first).to_contain_text("Access change")
    screenshot(tab, "k5-03-audit")


def test_four_wrong_k5_passwords_ask_k5_three_times_and_the_fourth_is_refused_by_the_portal(
    tab, portal, sim, project
):
    sim.clear_requests()

    for attempt in range(1, 5):
        k5_sign_in(tab, portal, LOCK_USER, f"wrong-{attempt}")
        alert = tab.locator("#k5-sign-in [role=alert]")
        if attempt < 4:
            expect(alert).to_contain_text(
                "K5 did not accept this contract, user name and password."
            )

    expect(alert).to_contain_text("The portal did not send this sign-in to K5")
    expect(alert).to_contain_text("3 failed K5 sign-ins in the last 15 minutes")
    expect(alert).to_contain_text("Try again after")
    screenshot(tab, "k5-04-guard")
    sent = [
        e
        for e in sim.requests_log()
        if e["auth_method"] == "password" and e["user_id"] == LOCK_USER_ID
    ]
    assert [e["status"] for e in sent] == [401, 401, 401]
    state = next(u for u in sim.state()["users"] if u["id"] == LOCK_USER_ID)
    assert state["locked_until"] is None, "K5 never locked the user"


def test_a_local_account_signs_in_as_before(tab, portal, project, bob):
    tab.goto(f"{portal}/accounts/login/")
    tab.fill("#id_username", "bob")
    tab.fill("#id_password", "bob-password-1")
    tab.locator("#content form").first.get_by_role("button", name="Sign in").click()

    tab.wait_for_url(f"{portal}/")
    assert my_projects(tab) == [("demo-project-1", "member")]
