"""gunicorn as production starts it (portal/gunicorn.py) believes a request's X-Forwarded-Proto
only from the addresses WEB_FORWARDED_ALLOW_IPS names: by default from nobody, not even loopback,
so that a client reaching the port directly cannot make plain HTTP pass for HTTPS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests
from cryptography.fernet import Fernet

from tests.support.simulator import ROOT
from tests.support.web_server import start_gunicorn

PRODUCTION = {
    "PORTAL_PRODUCTION": "true",
    "SECRET_KEY": "k5-portal-test-secret-" + "q7Zr2mXw9Lp4Nv8Ks3Hd6Tf1Bg5Jc0Ye" * 2,
    "K5_CREDENTIAL_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "127.0.0.1",
    "WEB_WORKERS": "1",
    "WEB_THREADS": "2",
    "SECURE_PROXY_SSL_HEADER": "",
}


@pytest.fixture
def production_gunicorn(tmp_path):
    started: list[subprocess.Popen] = []

    def start(**env: str) -> str:
        process, url = start_gunicorn(
            {**PRODUCTION, "PORTAL_VAR_DIR": str(tmp_path), **env}, tmp_path / "gunicorn.log"
        )
        started.append(process)
        return url

    yield start
    for process in started:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def claiming_https(url: str) -> requests.Response:
    return requests.get(
        f"{url}/jobs/", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False, timeout=10
    )


def test_a_client_on_loopback_cannot_claim_https_by_default(production_gunicorn):
    url = production_gunicorn()
    answer = claiming_https(url)
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"{url.replace('http:', 'https:')}/jobs/"


def test_the_addresses_named_in_forwarded_allow_ips_are_believed(production_gunicorn):
    url = production_gunicorn(WEB_FORWARDED_ALLOW_IPS="127.0.0.1")
    answer = claiming_https(url)
    assert answer.status_code == 302, "served as HTTPS: on to the sign-in page"
    assert answer.headers["Location"].startswith("/accounts/login/")


def test_a_bad_forwarded_allow_ips_stops_start_up_naming_it(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "portal/gunicorn.py",
            "--check-config",
            "portal.wsgi",
        ],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION, "WEB_FORWARDED_ALLOW_IPS": "proxy.example.com"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "WEB_FORWARDED_ALLOW_IPS='proxy.example.com'" in result.stdout + result.stderr
