"""Sign-in protection's settings: the limit, the cool-off and the proxy's address header come
from the environment, a bad value stops start-up naming the variable; the client's address is
read from the header only when it is configured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import RequestFactory

from portal.signin import client_address
from tests.support.simulator import ROOT


def settings_of(code: str, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AXES_FAILURE_LIMIT", "AXES_COOLOFF_MINUTES", "CLIENT_ADDRESS_HEADER")
    }
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


SHOW = (
    "from django.conf import settings as s; "
    "print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()), "
    "repr(s.CLIENT_ADDRESS_HEADER))"
)


def test_the_defaults_are_five_failures_fifteen_minutes_and_no_proxy_header():
    result = settings_of(SHOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "5 900 ''"


def test_the_environment_sets_them():
    result = settings_of(
        SHOW,
        AXES_FAILURE_LIMIT="10",
        AXES_COOLOFF_MINUTES="30",
        CLIENT_ADDRESS_HEADER="X-Real-IP",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "10 1800 'HTTP_X_REAL_IP'"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AXES_FAILURE_LIMIT": "five"}, "AXES_FAILURE_LIMIT='five' is not a whole number"),
        ({"AXES_FAILURE_LIMIT": "0"}, "AXES_FAILURE_LIMIT=0 is below its minimum of 1"),
        ({"AXES_COOLOFF_MINUTES": "0"}, "AXES_COOLOFF_MINUTES=0 is below its minimum of 1"),
        (
            {"CLIENT_ADDRESS_HEADER": "X-Forwarded-For:"},
            "CLIENT_ADDRESS_HEADER='X-Forwarded-For:' is not a request header name",
        ),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(env, named):
    result = settings_of(SHOW, **env)
    assert result.returncode != 0
    assert named in result.stderr


@pytest.mark.parametrize(
    ("forwarded", "address"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("192.0.2.1, 203.0.113.9", "203.0.113.9"),
        ("192.0.2.1,203.0.113.9:51234", "203.0.113.9"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("2001:db8::7", "2001:db8::7"),
        ("203.0.113.9, not-an-address", "10.0.0.2"),
        ("", "10.0.0.2"),
    ],
)
def test_the_address_is_the_right_most_in_the_configured_header(settings, forwarded, address):
    settings.CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == address


def test_the_header_is_ignored_unless_configured(settings):
    settings.CLIENT_ADDRESS_HEADER = ""
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert client_address(request) == "10.0.0.2"
