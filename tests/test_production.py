"""PORTAL_PRODUCTION=true means production: `check --deploy` finds nothing to warn about with the
variables the README lists, debug is refused, HTTPS is enforced (except for the load balancers'
probe), and without Redis the cache is the database, shared by every process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from tests.support.simulator import ROOT

# What README.md's "Running it grown up" lists; the database and Redis are left out so that the
# check runs anywhere (they change nothing `check --deploy` looks at).
PRODUCTION = {
    "PORTAL_PRODUCTION": "true",
    "SECRET_KEY": "k5-portal-test-secret-" + "q7Zr2mXw9Lp4Nv8Ks3Hd6Tf1Bg5Jc0Ye" * 2,
    "K5_CREDENTIAL_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "portal.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
}
NOT_INHERITED = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_CACHE_URL",
    "PORTAL_PRODUCTION",
    "DJANGO_DEBUG",
    "SECRET_KEY",
    "K5_CREDENTIAL_KEYS",
    "ALLOWED_HOSTS",
)


def manage(*args: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED and "SECURE_" not in k}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "PORTAL_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def shell(code: str, *, tmp_path, **env: str) -> str:
    result = manage("shell", "--no-imports", "-c", code, tmp_path=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_check_deploy_finds_nothing_with_the_documented_production_variables(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path, **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_finds_nothing_behind_a_tls_terminating_proxy_either(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        **PRODUCTION,
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        CLIENT_ADDRESS_HEADER="X-Forwarded-For",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_does_warn_when_https_is_switched_off(tmp_path):
    """The check is a real one: turning the safeguards off shows."""
    result = manage(
        "check",
        "--deploy",
        tmp_path=tmp_path,
        **PRODUCTION,
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
    )
    assert "security.W008" in result.stdout + result.stderr
    assert "security.W004" in result.stdout + result.stderr


@pytest.mark.parametrize("debug", ["true", "1", "on"])
def test_debug_in_production_stops_start_up_naming_the_variable(tmp_path, debug):
    result = manage("check", tmp_path=tmp_path, **PRODUCTION, DJANGO_DEBUG=debug)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_DEBUG=true is refused in production" in result.stderr


def test_production_defaults(tmp_path):
    code = (
        "import json; from django.conf import settings as s; print(json.dumps(["
        "s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
        " s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.CACHES['default']['BACKEND']]))"
    )
    assert json.loads(shell(code, tmp_path=tmp_path, **PRODUCTION)) == [
        False,
        True,
        31_536_000,
        True,
        True,
        None,
        True,
        True,
        "django.core.cache.backends.db.DatabaseCache",
    ]
    behind_proxy = shell(
        code,
        tmp_path=tmp_path,
        **PRODUCTION,
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto,https",
        SECURE_HSTS_SECONDS="3600",
    )
    assert json.loads(behind_proxy)[2] == 3600
    assert json.loads(behind_proxy)[5] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "SECURE_PROXY_SSL_HEADER="),
        ({"SECURE_PROXY_SSL_HEADER": "X Forwarded,https"}, "SECURE_PROXY_SSL_HEADER="),
        ({"SECURE_HSTS_SECONDS": "a year"}, "SECURE_HSTS_SECONDS='a year' is not a whole"),
        ({"SECURE_SSL_REDIRECT": "sometimes"}, "SECURE_SSL_REDIRECT='sometimes' is not a"),
    ],
)
def test_bad_https_settings_stop_start_up_naming_the_variable(tmp_path, env, named):
    result = manage("check", tmp_path=tmp_path, **PRODUCTION, **env)
    assert result.returncode != 0
    assert named in result.stderr


def test_plain_http_is_redirected_except_the_health_probe(tmp_path):
    """As a load balancer and a browser see a production portal: /healthz answers over plain
    HTTP, every other path (/metrics too) is sent to HTTPS; an HTTPS answer (here: through a
    proxy that says so) carries HSTS."""
    code = (
        "from django.test import Client; c = Client(HTTP_HOST='portal.example.com');"
        "probe = c.get('/healthz'); page = c.get('/jobs/'); metrics = c.get('/metrics');"
        "tls = c.get('/healthz', headers={'X-Forwarded-Proto': 'https'});"
        "print(probe.status_code, page.status_code, page['Location'],"
        " metrics.status_code, metrics['Location'], tls['Strict-Transport-Security'])"
    )
    answer = shell(
        code,
        tmp_path=tmp_path,
        **PRODUCTION,
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    assert answer == (
        "200 301 https://portal.example.com/jobs/ 301 https://portal.example.com/metrics "
        "max-age=31536000; includeSubDomains; preload"
    ), "/metrics carries its token: never over plain HTTP"


def test_without_redis_the_cache_is_the_database(tmp_path):
    backend = shell(
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])",
        tmp_path=tmp_path,
    )
    assert backend == "django.core.cache.backends.db.DatabaseCache"
    with_redis = shell(
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])",
        tmp_path=tmp_path,
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    assert with_redis == "django.core.cache.backends.redis.RedisCache"


def test_migrate_creates_the_cache_table(tmp_path):
    result = manage("migrate", "--noinput", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr

    database = sqlite3.connect(tmp_path / "db.sqlite3")
    tables = {name for (name,) in database.execute("SELECT name FROM sqlite_master")}
    database.close()
    assert "portal_cache" in tables

    again = manage("migrate", "--noinput", tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr


@pytest.mark.skipif(
    not settings.CACHES["default"]["BACKEND"].endswith(".DatabaseCache"),
    reason="the cache is Redis here (REDIS_URL or REDIS_CACHE_URL set)",
)
def test_every_process_sees_the_same_cache(transactional_db, tmp_path):
    """What one gunicorn worker counts (a throttle, a lockout) or reads from K5 (a volume
    list), another worker sees: here another process on the test database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    cache.set("written-here", "by the test process", 60)

    read = shell(
        "from django.core.cache import cache; cache.set('written-there', 'by another', 60);"
        "print(cache.get('written-here'))",
        tmp_path=tmp_path,
        DATABASE_URL=url,
    )

    assert read == "by the test process"
    assert cache.get("written-there") == "by another"
