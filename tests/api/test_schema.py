"""The committed OpenAPI schema (imaging/api/openapi.yaml, what tool authors read and
generate clients from) is valid and is exactly what the code serves."""

from __future__ import annotations

import subprocess
import sys

import yaml
from django.test import Client

from tests.support.simulator import ROOT

COMMITTED = ROOT / "imaging" / "api" / "openapi.yaml"
REGENERATE = (
    ".venv/bin/python manage.py spectacular --validate --fail-on-warn "
    "--file imaging/api/openapi.yaml"
)


def generate() -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_schema_is_valid_and_the_committed_copy_is_current():
    generated = generate()
    assert generated.returncode == 0, (
        f"the schema does not validate or has warnings:\n{generated.stderr[-3000:]}"
    )
    assert generated.stdout == COMMITTED.read_text(), (
        f"imaging/api/openapi.yaml is out of date with the code; regenerate it with\n"
        f"    {REGENERATE}\nand commit it with the change."
    )


def test_the_served_schema_is_the_committed_one(db):
    served = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert served.status_code == 200
    assert yaml.safe_load(served.content) == yaml.safe_load(COMMITTED.read_text())


def test_the_docs_page_loads_its_assets_from_us_not_a_cdn(db):
    page = Client().get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
