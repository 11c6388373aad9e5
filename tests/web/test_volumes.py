"""The volumes of a project: what each is, whether it can be imaged and why not, search and
filters, and a cached K5 list with its age and a refresh button."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from imaging import dispatch
from imaging.engine.connections import sign_in_lease
from imaging.engine.errors import CredentialsInvalid, K5NotAvailable
from imaging.engine.inventory import refresh_inventory
from imaging.models import EngineLease, JobState, VolumeInventory
from tests.support.demo import (
    CENTOS_BATCH,
    CENTOS_BROKEN,
    CENTOS_WEB,
    DATA_SMALL,
    P2_CENTOS,
    RHEL_ARCHIVE,
    UBUNTU_FRONT,
)
from tests.support.jobs import make_job
from tests.web.page import page

LIST_CALLS = {
    "GET /blockstorage/v2/{project_id}/volumes/detail",
    "GET /compute/v2/{project_id}/servers/detail",
}


def volumes_page(client, project, **params):
    return page(client, f"/projects/{project.pk}/volumes/", **params)


def rows_of(volumes):
    """{volume name: row} from the volumes table."""
    table = volumes.main.one("table", cls="volumes")
    return {row["Name"].split(" ")[0]: row for row in volumes.table_rows(table)}


def create_links(volumes):
    return {a.attrs["href"] for a in volumes.main.all("a", cls="button", text="Create image")}


def test_it_shows_every_volume_of_the_project_with_what_bob_needs_to_choose(
    signed_in, project, bob, other_project
):
    rows = rows_of(volumes_page(signed_in(bob), project))

    assert len(rows) == 14, "demo-project-1 has 14 volumes; demo-project-2's are not here"
    assert "p2-centos-01" not in rows
    web = rows["centos-web-01"]
    assert CENTOS_WEB in web["Name"]
    assert (
        web["Size"],
        web["Status"],
        web["Zone"],
        web["Bootable"],
        web["Attached to"],
        web["OS"],
    ) == ("30 GB", "available", "jp-east-1a", "yes", "—", "linux")
    assert web["Can be imaged"].startswith("yes")
    assert rows["centos-batch-01"]["Attached to"] == "batch-01 (SHUTOFF)"
    assert rows["centos-batch-01"]["Can be imaged"].startswith("yes (with force)")
    assert rows["data-small-01"]["OS"] == "unknown"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (
            "centos-broken-01",
            "The volume is error: only an available volume, or an in-use one "
            "with force, can be imaged.",
        ),
        (
            "rhel-archive-01",
            "This volume is already being uploaded to an image; wait until it is available again.",
        ),
        (
            "ubuntu-front-01",
            "The server front-01 is ACTIVE, not SHUTOFF: stop its OS first, or "
            "confirm that the OS is stopped.",
        ),
    ],
)
def test_a_volume_that_cannot_be_imaged_says_why(signed_in, project, bob, name, reason):
    cell = rows_of(volumes_page(signed_in(bob), project))[name]["Can be imaged"]
    assert cell.startswith("no")
    assert reason in cell


def test_a_volume_held_by_a_running_job_says_so(signed_in, project, bob):
    make_job(project, bob, volume_id=CENTOS_WEB, state=JobState.UPLOADING)
    cell = rows_of(volumes_page(signed_in(bob), project))["centos-web-01"]["Can be imaged"]
    assert cell.startswith("no")
    assert "An image job for this volume is still running" in cell


def test_members_get_a_create_button_on_eligible_rows_and_for_a_running_server_only(
    signed_in, project, bob
):
    links = create_links(volumes_page(signed_in(bob), project))
    url = f"/projects/{project.pk}/volumes/{{}}/create-image/"
    assert url.format(CENTOS_WEB) in links
    assert url.format(CENTOS_BATCH) in links
    assert url.format(UBUNTU_FRONT) in links, "the 'I have stopped the OS' override is there"
    assert url.format(CENTOS_BROKEN) not in links
    assert url.format(RHEL_ARCHIVE) not in links
    assert len(links) == 12


def test_victor_the_viewer_sees_the_volumes_but_no_create_button(signed_in, project, victor):
    volumes = volumes_page(signed_in(victor), project)
    assert len(rows_of(volumes)) == 14
    assert create_links(volumes) == set()


def test_it_searches_by_name_or_id(signed_in, project, bob):
    client = signed_in(bob)
    assert set(rows_of(volumes_page(client, project, q="CENTOS"))) == {
        "centos-web-01",
        "centos-batch-01",
        "centos-broken-01",
        "centos-app-01",
    }
    assert set(rows_of(volumes_page(client, project, q=DATA_SMALL[-6:]))) == {"data-small-01"}


def test_it_filters_by_status_zone_and_eligibility(signed_in, project, bob):
    client = signed_in(bob)
    in_use = rows_of(volumes_page(client, project, status="in-use"))
    assert {row["Status"] for row in in_use.values()} == {"in-use"} and len(in_use) == 6
    zone_b = rows_of(volumes_page(client, project, zone="jp-east-1b"))
    assert {row["Zone"] for row in zone_b.values()} == {"jp-east-1b"} and len(zone_b) == 8
    ineligible = rows_of(volumes_page(client, project, eligible="no"))
    assert set(ineligible) == {
        "centos-broken-01",
        "rhel-archive-01",
        "ubuntu-front-01",
        "data-front-01",
        "win-app-01",
        "centos-app-01",
    }
    both = volumes_page(client, project, status="available", zone="jp-east-1a", eligible="yes")
    assert set(rows_of(both)) == {"centos-web-01", "ubuntu-app-01", "data-small-01"}
    assert "3 volumes shown of 14" in both.main


def test_the_filters_keep_what_bob_chose(signed_in, project, bob):
    form = volumes_page(
        signed_in(bob), project, q="web", status="in-use", zone="jp-east-1b", eligible="no"
    ).main.one("form", role="search")
    assert form.one("input", name="q").attrs["value"] == "web"
    for name, value in (("status", "in-use"), ("zone", "jp-east-1b"), ("eligible", "no")):
        selected = form.one("select", name=name).all("option", selected=True)
        assert [option.attrs["value"] for option in selected] == [value]


def test_a_search_without_match_says_so(signed_in, project, bob):
    main = volumes_page(signed_in(bob), project, q="no-such-volume").main
    assert "No volume matches." in main
    assert "0 volumes shown of 14" in main


def test_it_asks_k5_twice_for_the_whole_list_and_then_serves_it_from_cache(
    signed_in, k5sim, project, bob
):
    k5sim.control(
        "POST", f"projects/{project.k5_project_id}/volumes", json={"count": 300, "size": 5}
    )
    client = signed_in(bob)
    k5sim.clear_requests()

    first = volumes_page(client, project)
    assert "314 volumes shown of 314" in first.main
    calls = k5sim.request_counts()
    assert set(calls) - {"POST /identity/v3/auth/tokens"} == LIST_CALLS, "no call per row"
    assert all(calls[call] == 1 for call in LIST_CALLS)

    k5sim.clear_requests()
    volumes_page(client, project, q="bulk")
    assert k5sim.request_counts() == {}, "a second look is served from the cached list"


def refreshed_at(volumes):
    return volumes.main.one("form", cls="refresh").one("time").attrs["datetime"]


def test_the_refresh_button_asks_k5_again_and_shows_when_the_list_was_taken(
    signed_in, k5sim, project, bob, settings
):
    settings.K5_INVENTORY_MIN_SECONDS = 0  # not coalesced with the page's own first listing
    client = signed_in(bob)
    before = volumes_page(client, project, status="available")
    assert "K5 list from" in before.main.one("form", cls="refresh")
    k5sim.control("PATCH", f"volumes/{CENTOS_WEB}", json={"status": "error"})
    assert rows_of(volumes_page(client, project))["centos-web-01"]["Status"] == "available", (
        "the cached list is shown until refreshed"
    )

    response = client.post(f"/projects/{project.pk}/volumes/?status=available", {"refresh": "1"})

    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/volumes/?status=available"
    after = volumes_page(client, project)
    assert rows_of(after)["centos-web-01"]["Status"] == "error"
    assert refreshed_at(after) > refreshed_at(before)


def test_the_refresh_is_a_post_with_a_csrf_token(signed_in, project, bob):
    form = volumes_page(signed_in(bob), project).main.one("form", cls="refresh")
    assert form.attrs["method"] == "post"
    assert form.has("input", name="csrfmiddlewaretoken")
    assert form.one("button").text == "Refresh from K5"
    response = signed_in(bob, enforce_csrf_checks=True).post(
        f"/projects/{project.pk}/volumes/", {"refresh": "1"}
    )
    assert response.status_code == 403


def test_it_says_plainly_when_k5_cannot_be_asked(signed_in, k5sim, project, bob):
    k5sim.add_fault(kind="http", path="/volumes/detail", status=503, times=None)
    main = volumes_page(signed_in(bob), project).main
    alert = main.one("p", role="alert")
    assert alert.text.startswith("K5 could not be asked for the volumes:")
    assert "No volume matches." in main


def test_a_volume_of_another_project_cannot_be_reached_through_this_one(
    signed_in, project, bob, other_project
):
    response = signed_in(bob).get(f"/projects/{project.pk}/volumes/{P2_CENTOS}/create-image/")
    assert response.status_code == 404


def test_refreshed_at_is_a_time_a_reader_can_read(signed_in, project, bob):
    time = volumes_page(signed_in(bob), project).main.one("form", cls="refresh").one("time")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", time.text)


def test_it_says_when_k5_rejected_the_projects_credential_and_asks_k5_nothing(
    signed_in, k5sim, project, bob
):
    project.credentials_invalid_at = project.created_at
    project.credentials_error = "K5 rejected the credential of demo-user: wrong password."
    project.save()
    k5sim.clear_requests()
    main = volumes_page(signed_in(bob), project).main
    assert main.one("p", role="alert").text == (
        "K5 could not be asked for the volumes: K5 rejected the credential of demo-user: "
        "wrong password."
    )
    assert k5sim.request_counts() == {}, "no sign-in that could lock the K5 user"


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "K5 could not be asked for the volumes: K5 rejected the credential of demo-user. "),
        ("ja", "K5 からボリューム一覧を取得できませんでした: K5 が demo-user の認証情報を拒否"),
    ],
)
def test_a_rejected_credential_reads_in_the_readers_language_with_k5s_words_as_k5s(
    signed_in, k5sim, project, bob, language, says
):
    project.set_password("wrong-password")
    project.save()
    with pytest.raises(CredentialsInvalid):
        refresh_inventory(project)
    project.refresh_from_db()
    assert project.credentials_error_code == "credentials.rejected"
    assert project.credentials_error.startswith("K5 rejected the credential of demo-user.")
    k5_says = project.credentials_error_params["k5_says"]

    client = signed_in(bob)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    alert = volumes_page(client, project).main.one("p", role="alert").text
    assert alert.startswith(says)
    marked = "「K5 の応答: {}」" if language == "ja" else "K5 says: {}"
    assert alert.endswith(marked.format(k5_says))


def test_the_portals_own_reason_reads_in_the_readers_language_and_not_as_k5s(
    signed_in, k5sim, project, bob, settings
):
    """Another host signing in as the project's K5 user for longer than a sign-in may take:
    the listing is not made, and the page says why in the portal's words."""
    settings.K5_CONNECT_TIMEOUT = settings.K5_READ_TIMEOUT = 0.1
    EngineLease.acquire(sign_in_lease(project.k5_config()), "another-host:1", 600)
    with pytest.raises(K5NotAvailable):
        refresh_inventory(project)  # waits out the lease's hold: about 5 s
    # Asked for just before that answer: no other listing is asked for, none is waited for.
    record = VolumeInventory.objects.get(project=project)
    record.requested_at = record.error_at - timedelta(seconds=1)
    record.save(update_fields=["requested_at"])

    client = signed_in(bob)
    for language, says in [
        ("en", "Another worker has been signing in to K5 for too long; trying again later."),
        ("ja", "別のワーカーによる K5 へのサインインが長く続いています。"),
    ]:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        alert = volumes_page(client, project).main.one("p", role="alert").text
        assert says in alert
        assert "K5 says" not in alert and "K5 の応答" not in alert


def test_refreshes_are_coalesced_one_k5_listing_whoever_asks(signed_in, k5sim, project, bob, dana):
    """Every member's refresh is a listing under the project's one K5 user: within
    K5_INVENTORY_MIN_SECONDS only the first reaches K5."""
    volumes_page(signed_in(bob), project)
    k5sim.clear_requests()
    for member in (bob, dana, bob):
        signed_in(member).post(f"/projects/{project.pk}/volumes/", {"refresh": "1"})
    assert k5sim.request_counts() == {}


def test_an_old_list_is_shown_with_its_age_while_a_worker_lists_again(
    signed_in, project, bob, monkeypatch
):
    volumes_page(signed_in(bob), project)  # a first list
    VolumeInventory.objects.filter(project=project).update(
        refreshed_at=timezone.now() - timedelta(hours=1), requested_at=None
    )
    asked = []
    monkeypatch.setattr(dispatch, "enqueue", lambda task, *args: asked.append((task, args)))

    page_now = volumes_page(signed_in(bob), project)

    assert asked == [(dispatch.REFRESH_INVENTORY, (project.pk,))]
    status = page_now.main.one("span", id_="inventory-status")
    assert "refreshing…" in status.text and "K5 list from" in status.text
    assert status.attrs["data-status"] == f"/projects/{project.pk}/volumes/?listing=1"
    assert "centos-web-01" in rows_of(page_now)
    listing = signed_in(bob).get(f"/projects/{project.pk}/volumes/", {"listing": "1"}).json()
    assert listing["refreshing"] is True


def test_the_title_is_the_projects_name_and_the_refresh_script_loads_in_the_body(
    signed_in, project, bob
):
    view = volumes_page(signed_in(bob), project)

    title = re.search(r"<title>(.*?)</title>", view.html, re.S).group(1)
    assert "<script" not in title, "a browser shows a script inside <title> as text"
    assert title.startswith("Volumes of demo-project-1 ·")
    body = view.one("body")
    assert body.has("script", src="/static/js/inventory.js")
