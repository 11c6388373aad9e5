"""Every answer from /api/ that is not a success is JSON of one shape,
{"error": {"code", "message", "fields"}} — never an HTML page, never a traceback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from imaging.models import ApiToken
from tests.api.client import Api, error_of, job_body
from tests.support.jobs import make_job


@pytest.mark.parametrize(
    "path", ["/api/nothing-here", "/api/v1/", "/api/v1/jobs", "/api/v2/jobs/", "/api/v1/volumes/"]
)
def test_an_unknown_api_path_is_a_json_404(api, bob, path):
    response = api(bob).get(path)
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found"
    assert path in error["message"]


def test_a_path_missing_its_slash_is_told_the_right_one(api, bob):
    assert error_of(api(bob).get("/api/v1/jobs"))["message"] == (
        "No API endpoint at /api/v1/jobs. Did you mean /api/v1/jobs/ (with the slash)?"
    )
    assert "Did you mean" not in error_of(api(bob).get("/api/v1/nothing"))["message"]


def test_an_unknown_job_is_a_json_404_whatever_the_id_looks_like(api, bob):
    for job_id in ("999999", "abc", "99999999999999999999999"):
        response = api(bob).get(f"/api/v1/jobs/{job_id}/")
        assert response.status_code == 404, job_id
        assert error_of(response)["code"] == "not_found"


def test_a_malformed_json_body_is_a_json_400(api, project, bob):
    response = api(bob).client.post(
        "/api/v1/jobs/",
        '{"project": 1, "volume_id": ',
        content_type="application/json",
        headers=api(bob).headers,
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


@pytest.mark.parametrize("field", ["volume_id", "image_name"])
def test_a_nul_character_in_a_text_field_is_a_json_400_naming_it(api, project, bob, field):
    response = api(bob).post("/api/v1/jobs/", job_body(project, **{field: "web\x00golden"}))
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [field]


def test_a_form_post_is_a_json_415_the_api_takes_json(api, project, bob):
    response = api(bob).client.post("/api/v1/jobs/", job_body(project), headers=api(bob).headers)
    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(api, project, bob):
    from django.test import Client

    tool = api(bob)
    tool.client = Client(enforce_csrf_checks=True)  # as a real tool: no CSRF cookie, ever
    response = tool.post("/api/v1/jobs/0.5/cancel/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_body_that_is_not_an_object_is_a_json_400(api, project, bob):
    response = api(bob).client.post(
        "/api/v1/jobs/", "[1, 2]", content_type="application/json", headers=api(bob).headers
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/jobs/{job}/", "GET"),
        ("PUT", "/api/v1/jobs/{job}/", "GET"),
        ("PATCH", "/api/v1/projects/{project}/", "GET"),
        ("POST", "/api/v1/projects/", "GET"),
        ("GET", "/api/v1/jobs/{job}/cancel/", "POST"),
        ("DELETE", "/api/v1/events/", "GET"),
    ],
)
def test_a_wrong_method_is_a_json_405_saying_what_is_allowed(
    api, project, bob, method, path, allowed
):
    job = make_job(project, bob)
    response = api(bob).request(method, path.format(job=job.pk, project=project.pk))
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert allowed in response["Allow"]


def assert_unauthorized(response, words: str):
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    error = error_of(response)
    assert error["code"] == "authentication_failed"
    assert words in error["message"]


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("Token not-a-real-key", "Invalid, disabled or expired API token."),
        ("Token " + "x" * 43, "Invalid, disabled or expired API token."),
        ("Token two words", "must be 'Token <key>'"),
        ("Token", "must be 'Token <key>'"),
    ],
)
def test_a_bad_token_is_a_json_401(project, header, words):
    assert_unauthorized(Api().get("/api/v1/projects/", headers={"Authorization": header}), words)


def test_an_expired_token_is_a_json_401(api, project, bob):
    tool = api(bob)
    assert tool.get("/api/v1/projects/").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_unauthorized(tool.get("/api/v1/projects/"), "expired")


def test_a_disabled_token_is_a_json_401(api, project, bob):
    tool = api(bob)
    ApiToken.objects.update(enabled=False)
    assert_unauthorized(tool.get("/api/v1/projects/"), "disabled")


def test_the_token_of_a_deactivated_user_is_a_json_401(api, project, bob):
    tool = api(bob)
    bob.is_active = False
    bob.save()
    assert_unauthorized(tool.get("/api/v1/projects/"), "Invalid")


def test_no_credentials_is_a_json_401_asking_for_a_token(project):
    response = Api().get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert error_of(response)["code"] == "not_authenticated"


def test_a_session_post_without_csrf_token_is_a_json_403(project, bob):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(bob)
    assert browser.get("/api/v1/projects/", HTTP_ACCEPT="application/json").status_code == 200
    response = browser.post("/api/v1/jobs/", "{}", content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in error_of(response)["message"]


def test_a_server_error_under_api_is_json_without_a_traceback(
    api, project, bob, settings, monkeypatch
):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False

    def broken(project, now=None):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr("imaging.api.views.budget", broken)
    tool = api(bob)
    tool.client.raise_request_exception = False
    response = tool.get("/api/v1/projects/")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert b"hunter2" not in response.content
    assert b"Traceback" not in response.content


def test_errors_are_english_whatever_the_clients_language(api, project, bob):
    """Tools parse messages: a Japanese browser or Accept-Language must not change them."""
    japanese = {"Accept-Language": "ja"}
    unauthenticated = Api().get("/api/v1/jobs/", headers=japanese)
    assert error_of(unauthenticated)["message"] == "Authentication credentials were not provided."

    tool = api(bob)
    tool.client.cookies["django_language"] = "ja"
    missing = tool.post("/api/v1/jobs/", {"image_name": "x"}, headers=japanese)
    assert error_of(missing)["fields"]["project"] == ["This field is required."]
    assert missing["Content-Language"] == "en"
