"""Logs: one line per event, JSON or text, each web request with an id that is returned to the
caller and printed on every line logged while it is served."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from portal.logs import ContextFilter, JsonFormatter, TextFormatter, log_context, note_k5_request


def test_it_gives_each_request_an_id_and_returns_it(client, lines):
    first = client.get("/healthz")
    second = client.get("/healthz")

    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]
    logged = [line for line in lines() if line["logger"] == "portal.request"]
    assert [line["request_id"] for line in logged] == [
        first["X-Request-ID"],
        second["X-Request-ID"],
    ]
    assert logged[0] | {"duration_ms": 0} == {
        "time": logged[0]["time"],
        "level": "DEBUG",  # probes are logged below INFO
        "logger": "portal.request",
        "message": "GET /healthz 200",
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "duration_ms": 0,
        "request_id": first["X-Request-ID"],
    }


@pytest.mark.parametrize(
    "incoming", ["b7f3c1d2-proxy-id", "Root=1-67891233-abcdef012345678912345678", "a.b_c:d"]
)
def test_it_keeps_a_sane_incoming_request_id(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming", ["", "two words", "x" * 129, "id\r\nX-Injected: 1", "<script>", "-leading-dash"]
)
def test_it_replaces_an_incoming_request_id_that_is_not_sane(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response["X-Request-ID"] != incoming and len(response["X-Request-ID"]) == 32


def test_lines_logged_while_a_request_is_served_carry_its_id(client, db, lines):
    response = client.get("/readyz")  # no engine tick yet: readyz logs why it fails

    warning = next(line for line in lines() if line["logger"] == "portal.health")
    assert warning["request_id"] == response["X-Request-ID"]
    assert warning["message"] == "readyz failing: engine"


def test_engine_context_tags_lines_and_forgets_k5_ids_between_jobs(lines):
    log = logging.getLogger("imaging.engine.test")
    with log_context(job_id=7, project="demo-project-1"):
        note_k5_request("req-1")
        log.info("sent")
    with log_context(job_id=8):
        log.info("next job")
    note_k5_request("req-2")  # outside any unit of work: nothing would ever clear it
    log.info("outside")

    sent, next_job, outside = [line for line in lines() if line["logger"] == log.name]
    assert (sent["job_id"], sent["project"]) == (7, "demo-project-1")
    assert sent["k5_request_id"] == "req-1"
    assert next_job["job_id"] == 8 and "k5_request_id" not in next_job
    assert not {"job_id", "project", "k5_request_id", "request_id"} & set(outside)


def test_a_json_line_holds_the_exception_and_only_plain_extras():
    formatter = JsonFormatter()
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("here",),
            sys.exc_info(),
            extra={"status": 500, "request": object()},
        )
    line = json.loads(formatter.format(record))

    assert line["message"] == "failed here" and line["status"] == 500
    assert "request" not in line
    assert line["exception"].startswith("Traceback") and "ValueError: bad" in line["exception"]
    assert "\n" not in formatter.format(record)  # one line per event, tracebacks included


def test_text_lines_name_the_context_at_the_end():
    record = logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "hi", (), None)
    with log_context(job_id=3):
        ContextFilter().filter(record)

    assert TextFormatter().format(record).endswith(" INFO x hi [job_id=3]")


def run_settings(**env) -> subprocess.CompletedProcess:
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('probe').warning('hello %s', 'there')"
    )
    base = {name: value for name, value in os.environ.items() if name != "LOG_FORMAT"}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_log_format_json_makes_the_console_write_json():
    result = run_settings(LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "probe", "hello there")


def test_log_format_text_is_the_default():
    result = run_settings()

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("WARNING probe hello there")


def test_an_unknown_log_format_stops_start_up():
    result = run_settings(LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT='xml' is not one of: text, json" in result.stderr
