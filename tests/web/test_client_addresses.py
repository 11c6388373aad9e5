"""Behind a proxy (CLIENT_ADDRESS_HEADER) a job records the person's address, not the proxy's,
whether it came from a page or the API; and that address is for the project's admins: viewers
read the same history without it (pages, API, exports)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from imaging.models import ApiToken, EventKind, ImageJob
from tests.api.client import Api, job_body
from tests.support.demo import CENTOS_WEB

PERSON = "203.0.113.9"
PROXY = "127.0.0.1"


@pytest.fixture
def behind_a_proxy(settings):
    settings.CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"


def requested_from(job: ImageJob) -> tuple[str | None, str | None]:
    event = job.events.get(kind=EventKind.ACTION, message__startswith="Requested image")
    return job.client_address, event.detail["client_address"]


def submitted_from_a_page(user, project) -> ImageJob:
    client = Client(REMOTE_ADDR=PROXY)
    client.force_login(user)
    response = client.post(
        f"/projects/{project.pk}/volumes/{CENTOS_WEB}/create-image/",
        {"image_name": "web-golden", "preparation_confirmed": "on"},
        headers={"X-Forwarded-For": f"198.51.100.1, {PERSON}"},
    )
    assert response.status_code == 302, response.status_code
    return ImageJob.objects.get()


def test_a_job_from_a_page_records_the_person_not_the_proxy(behind_a_proxy, project, bob):
    assert requested_from(submitted_from_a_page(bob, project)) == (PERSON, PERSON)


def test_a_job_from_the_api_records_the_person_not_the_proxy(behind_a_proxy, project, bob):
    _token, key = ApiToken.issue(bob, "tests")
    response = Api(key).post(
        "/api/v1/jobs/", job_body(project), headers={"X-Forwarded-For": PERSON}
    )
    assert response.status_code == 201, response.content
    assert requested_from(ImageJob.objects.get()) == (PERSON, PERSON)


def everything_readable(user, job: ImageJob) -> dict[str, str]:
    browser = Client()
    browser.force_login(user)
    _token, key = ApiToken.issue(user, "tests")
    api = Api(key)
    return {
        "audit page": browser.get("/audit/").content.decode(),
        "job page": browser.get(f"/jobs/{job.pk}/").content.decode(),
        "CSV export": browser.get("/audit/", {"export": "csv"}).getvalue().decode(),
        "JSON export": browser.get("/audit/", {"export": "json"}).getvalue().decode(),
        "API events": api.get("/api/v1/events/").content.decode(),
        "API CSV": api.get("/api/v1/events/", {"format": "csv"}).content.decode(),
        "API job events": api.get(f"/api/v1/jobs/{job.pk}/events/").content.decode(),
        "API job": api.get(f"/api/v1/jobs/{job.pk}/").content.decode(),
    }


def test_viewers_and_members_read_the_history_without_addresses(
    behind_a_proxy, project, bob, victor
):
    job = submitted_from_a_page(bob, project)
    for reader in (victor, bob):
        seen = everything_readable(reader, job)
        for where, text in seen.items():
            assert PERSON not in text, f"{reader.username} reads the address in the {where}"
            assert "client_address" not in text, f"{reader.username} reads one in the {where}"
        request = json.loads(seen["API job events"])["results"][0]
        assert request["detail"]["channel"] == "web", "the rest of the detail stays"


def test_the_projects_admins_and_staff_read_the_addresses(
    behind_a_proxy, project, bob, alice, stella
):
    job = submitted_from_a_page(bob, project)
    for reader in (alice, stella):
        seen = everything_readable(reader, job)
        for where in ("CSV export", "JSON export", "API events", "API CSV", "API job events"):
            assert PERSON in seen[where], f"{reader.username} misses the address in the {where}"
