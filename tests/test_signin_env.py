"""The sign-in variables (K5_LOGIN, K5_ROLE_MAP, K5_LOGIN_MAX_AGE, K5_LOGIN_GUARD_FAILURES,
OIDC_*) are read strictly: a bad value stops start-up naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import settings as portal_settings
from portal.env import env_duration
from tests.support.simulator import ROOT


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)), ("90", timedelta(seconds=90))],
)
def test_a_length_of_time_is_read_with_its_unit(monkeypatch, value, expected):
    monkeypatch.setenv("K5_LOGIN_MAX_AGE", value)
    assert env_duration("K5_LOGIN_MAX_AGE", timedelta(hours=1)) == expected


def test_a_length_of_time_without_a_number_is_refused(monkeypatch):
    monkeypatch.setenv("K5_LOGIN_MAX_AGE", "half a day")
    with pytest.raises(ImproperlyConfigured, match="K5_LOGIN_MAX_AGE='half a day' is not a"):
        env_duration("K5_LOGIN_MAX_AGE", timedelta(hours=1))


def test_the_role_map_reads_k5_roles_to_portal_roles(monkeypatch):
    monkeypatch.setenv("K5_ROLE_MAP", "admin=admin, _member_=member,reader=viewer")
    assert portal_settings._role_map("K5_ROLE_MAP") == {
        "admin": "admin",
        "_member_": "member",
        "reader": "viewer",
    }


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("reader=owner", "K5_ROLE_MAP: reader=owner maps to no portal role"),
        ("reader", "K5_ROLE_MAP: 'reader' is not key=value"),
    ],
)
def test_a_bad_role_map_is_refused_naming_the_entry(monkeypatch, value, named):
    monkeypatch.setenv("K5_ROLE_MAP", value)
    with pytest.raises(ImproperlyConfigured, match=named):
        portal_settings._role_map("K5_ROLE_MAP")


def test_the_group_map_gives_a_group_several_projects(monkeypatch):
    monkeypatch.setenv("OIDC_GROUP_MAP", "ops=p-1:admin,ops=p-2:viewer,dev=p-1:member")
    assert portal_settings._group_map("OIDC_GROUP_MAP") == {
        "ops": [("p-1", "admin"), ("p-2", "viewer")],
        "dev": [("p-1", "member")],
    }
    monkeypatch.setenv("OIDC_GROUP_MAP", "ops=p-1")
    with pytest.raises(ImproperlyConfigured, match="ops=p-1 must be group=project:role"):
        portal_settings._group_map("OIDC_GROUP_MAP")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"K5_LOGIN_GUARD_FAILURES": "5"}, "K5_LOGIN_GUARD_FAILURES must stay below K5's 5"),
        ({"OIDC_ISSUER": "https://sso.example.com"}, "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
    ],
)
def test_start_up_stops_on_a_sign_in_setting_that_cannot_work(env, named):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert named in result.stderr
