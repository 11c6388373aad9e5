"""Bad configuration stops start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest

from tests.support.simulator import ROOT


def start_django(**env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PORTAL_PRODUCTION")
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_with_the_laptop_defaults():
    result = start_django()
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG='maybe' is not a boolean"),
        ({"Q_WORKERS": "two"}, "Q_WORKERS='two' is not a whole number"),
        ({"Q_WORKERS": "0"}, "Q_WORKERS=0 is below its minimum of 1"),
        ({"SESSION_COOKIE_AGE": "a day"}, "SESSION_COOKIE_AGE='a day' is not a length of time"),
        ({"SESSION_COOKIE_AGE": "60"}, "SESSION_COOKIE_AGE='60' is below its minimum"),
        (
            {"SQLITE_BUSY_TIMEOUT": "40"},
            "SQLITE_BUSY_TIMEOUT=40 must stay below gunicorn's timeout",
        ),
        ({"Q_TIMEOUT": "300", "Q_RETRY": "200"}, "Q_RETRY must be larger than Q_TIMEOUT"),
        ({"DATABASE_URL": "mysql://db/portal"}, "DATABASE_URL must be a sqlite:// or postgres://"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL='localhost:6379' is not a URL"),
        ({"K5_DEMO_AUTH_URL": "ftp://x/v3"}, "K5_DEMO_AUTH_URL='ftp://x/v3' is not a URL"),
        ({"PORTAL_PRODUCTION": "true"}, "SECRET_KEY (or SECRET_KEY_FILE) must be set"),
        (
            {"PORTAL_PRODUCTION": "true", "SECRET_KEY": "x" * 50},
            "K5_CREDENTIAL_KEYS must be set in production",
        ),
        (
            {"SECRET_KEY_FILE": "/nonexistent/secret"},
            "SECRET_KEY_FILE='/nonexistent/secret' cannot be read",
        ),
    ],
)
def test_it_refuses_bad_values_naming_the_variable(env, named):
    result = start_django(**env)
    assert result.returncode != 0
    assert named in result.stderr


def test_redis_url_switches_the_broker_without_code_change():
    code = (
        "from django.conf import settings; "
        "print(settings.Q_CLUSTER.get('redis'), settings.Q_CLUSTER.get('orm'))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    run = lambda env: (  # noqa: E731
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert run({}) == "None default"
    assert run({"REDIS_URL": "redis://127.0.0.1:6379/3"}) == "redis://127.0.0.1:6379/3 None"
