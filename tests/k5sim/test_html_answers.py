"""The `http` fault's `answer_html`: the request is handled for real, and the answer the
client gets is a proxy's HTML page with the given status instead of K5's JSON."""

import pytest
import requests

from tests.support.demo import CENTOS_WEB
from tests.support.simulator import UPLOAD_ACTION


def test_an_upload_answered_202_in_html_is_really_accepted(k5sim, api):
    k5sim.add_fault(kind="http", method="POST", path="/action$", answer_html=202)

    response = api.upload(CENTOS_WEB, image_name="behind-a-proxy")

    assert response.status_code == 202
    assert response.headers["Content-Type"] == "text/html"
    assert response.text.startswith("<html>") and "202 Accepted" in response.text
    assert api.volume(CENTOS_WEB).json()["volume"]["status"] == "uploading"
    (made,) = k5sim.images_named("behind-a-proxy")
    assert made["status"] in ("queued", "saving")
    assert [e["status"] for e in k5sim.requests_to(UPLOAD_ACTION)] == [202]


def test_any_status_can_come_back_as_html_and_only_times_uses(k5sim, api):
    k5sim.add_fault(kind="http", path="/volumes/detail$", answer_html=502)

    first = api.get(api.volumes_url() + "/detail")
    second = api.get(api.volumes_url() + "/detail")

    assert first.status_code == 502 and first.headers["Content-Type"] == "text/html"
    assert "502 Bad Gateway" in first.text
    assert second.status_code == 200 and second.json()["volumes"]


@pytest.mark.parametrize(
    "fault, message",
    [
        ({"answer_html": 202, "status": 503}, "'answer_html' cannot be combined"),
        ({"answer_html": 202, "reset": True}, "'answer_html' cannot be combined"),
        ({"answer_html": 199}, "'answer_html' must be an HTTP status (200-599)"),
        ({"answer_html": 600}, "'answer_html' must be an HTTP status (200-599)"),
        ({"answer_html": "202"}, "'answer_html' must be an HTTP status (200-599)"),
        ({"answer_html": True}, "'answer_html' must be an HTTP status (200-599)"),
    ],
)
def test_bad_specs_are_refused_naming_the_rule(k5sim, fault, message):
    response = requests.post(
        f"{k5sim.base_url}/_sim/faults", json={"kind": "http", "path": "x", **fault}, timeout=10
    )

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
