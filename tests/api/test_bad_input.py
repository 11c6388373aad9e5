"""Bad input at the API's edge — a body over DATA_UPLOAD_MAX_MEMORY_SIZE, JSON nested 100,000
deep, JSON that is not JSON — is answered in the API's JSON error shape with a 4xx, never a 500,
an HTML page or a logged traceback. Pages keep Django's HTML answers."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.test import RequestFactory

from imaging.api.middleware import ApiBadInputMiddleware
from tests.api.client import Api, error_of, job_body
from tests.support.jobs import make_job

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def no_error_logged(log) -> bool:
    return [r.getMessage() for r in log.records if r.levelno >= logging.ERROR] == []


def post_raw(tool: Api, path: str, raw: str | bytes, content_type="application/json"):
    return tool.client.post(path, raw, content_type=content_type, headers=tool.headers)


def test_a_body_over_the_limit_is_a_json_413(api, project, bob, log):
    raw = '{"image_name": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'

    response = post_raw(api(bob), "/api/v1/jobs/", raw)

    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "request_too_large"
    assert f"at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes" in error["message"]
    assert no_error_logged(log)


def test_the_limit_is_django_s_setting(api, project, bob, settings, log):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 400
    tool = api(bob)
    just_under = post_raw(tool, "/api/v1/jobs/", '{"image_name": "' + "x" * 300 + '"}')
    assert just_under.status_code == 400
    assert error_of(just_under)["code"] == "invalid", "read and validated as usual"

    over = post_raw(tool, "/api/v1/jobs/", '{"image_name": "' + "x" * 400 + '"}')
    assert over.status_code == 413
    assert error_of(over)["code"] == "request_too_large"
    assert no_error_logged(log)


def test_a_body_over_the_limit_is_a_413_on_every_endpoint_even_before_sign_in(
    api, project, bob, settings, log
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    job = make_job(project, bob)
    big = "x" * 2000
    for tool, path, content_type in [
        (api(bob), f"/api/v1/jobs/{job.pk}/cancel/", "application/json"),
        (api(bob), f"/api/v1/jobs/{job.pk}/retry/", "application/x-www-form-urlencoded"),
        (api(None), "/api/v1/jobs/", "application/json"),
        (api(bob), "/api/v1/no-such-endpoint/", "application/json"),
    ]:
        response = post_raw(tool, path, big, content_type)
        assert response.status_code == 413, path
        assert error_of(response)["code"] == "request_too_large"
    assert no_error_logged(log)


@pytest.mark.parametrize("raw", [DEEP_ARRAY, DEEP_OBJECT], ids=["arrays", "objects"])
def test_json_nested_100000_deep_is_a_json_400(api, project, bob, raw, log):
    response = post_raw(api(bob), "/api/v1/jobs/", raw)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "parse_error"
    assert "nested too deeply" in error["message"]
    assert no_error_logged(log)


def test_deep_json_inside_a_field_is_a_json_400_too(api, project, bob, log):
    raw = '{"project": ' + DEEP_ARRAY + ', "image_name": "web"}'
    response = post_raw(api(bob), "/api/v1/jobs/", raw)
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"
    assert no_error_logged(log)


@pytest.mark.parametrize(
    "raw",
    ["{bad", '{"project": 1,}', "\xff\xfe", "[" * 500, '{"a": NaN}'],
    ids=["unquoted", "trailing-comma", "not-utf8", "unclosed", "nan"],
)
def test_invalid_json_is_a_json_400(api, project, bob, raw, log):
    response = post_raw(api(bob), "/api/v1/jobs/", raw.encode("latin-1"))
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"
    assert no_error_logged(log)


def test_a_good_body_still_creates_the_job(api, project, bob, log):
    response = api(bob).post("/api/v1/jobs/", job_body(project))
    assert response.status_code == 201, response.content[:300]
    assert no_error_logged(log)


def test_pages_keep_their_html_answer(client, db):
    response = client.post(
        "/accounts/login/",
        "username=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")


def test_a_body_read_past_the_limit_anyway_is_still_a_json_413():
    """Safety net: should anything read an oversized body (one whose length was not declared
    up front), Django's RequestDataTooBig is answered as JSON too."""
    guard = ApiBadInputMiddleware(lambda request: None)
    request = RequestFactory().post("/api/v1/jobs/", "{}", content_type="application/json")
    response = guard.process_exception(request, RequestDataTooBig("too big"))
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"]["code"] == "request_too_large"

    page = RequestFactory().post("/accounts/login/")
    assert guard.process_exception(page, RequestDataTooBig("too big")) is None


def test_a_recursion_bug_in_a_view_is_not_passed_off_as_bad_input():
    """Only a RecursionError raised while a parser reads the body is the client's fault."""
    guard = ApiBadInputMiddleware(lambda request: None)
    request = RequestFactory().get("/api/v1/jobs/")

    def recurse(n):
        return recurse(n + 1)

    try:
        recurse(0)
    except RecursionError as bug:
        assert guard.process_exception(request, bug) is None


@pytest.mark.django_db
def test_each_bad_item_of_a_list_is_named_in_the_documented_shape(api, project, bob, log):
    response = api(bob).post(
        "/api/v1/batches/",
        {
            "project": project.pk,
            "volume_ids": ["ok-1", "no spaces", None],
            "image_name_template": "{volume}",
            "preparation_confirmed": True,
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {
        "volume_ids": [
            "[1]: A K5 volume id: letters, digits, '.', '_' and '-'.",
            "[2]: This field may not be null.",
        ]
    }
    assert error["message"] == "[1]: A K5 volume id: letters, digits, '.', '_' and '-'."
