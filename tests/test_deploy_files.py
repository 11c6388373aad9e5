"""The files docs/operations.md tells an operator to use exist and say what it says: the image
runs as a user, not root, from the pinned requirements; compose starts web and worker after the
migration; the systemd units are valid (systemd-analyze, when it is installed) and share the
metrics directory; and README's table names every variable this work added."""

from __future__ import annotations

import re
import shutil
import subprocess
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
ENTRYPOINT_MODES = {"web", "worker", "migrate", "collectstatic", "check", "manage"}


def test_every_file_the_operations_guide_names_exists():
    linked = re.findall(r"\]\(\.\./([^)#]+)", OPERATIONS)
    named = re.findall(r"`((?:deploy|docs|portal|tests|benchmarks)/[\w./-]+\.\w+)`", OPERATIONS)
    assert {"Dockerfile", "compose.yaml", "deploy/docker-entrypoint.sh"} <= set(linked)
    missing = [path for path in {*linked, *named} if not (ROOT / path).exists()]
    assert missing == []


def test_the_image_runs_as_an_unprivileged_user_from_the_pinned_requirements():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "RUN pip install --no-compile -r requirements.txt" in lines
    assert 'ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]' in lines
    assert 'CMD ["web"]' in lines
    requirements = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert all("==" in line for line in requirements), "every runtime requirement is pinned"
    assert "prometheus-client==0.26.0" in requirements
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", ".env", "var"} <= set(ignored)


def test_compose_starts_web_and_worker_after_the_migration():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]

    assert set(services) == {"postgres", "redis", "migrate", "web", "worker"}
    for name in ("migrate", "web", "worker"):
        assert services[name]["command"][0] in ENTRYPOINT_MODES
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["volumes"] == ["metrics:/run/k5portal/metrics"]
        assert services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/run/k5portal/metrics"
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]  # only the TLS proxy reaches it
    assert services["migrate"]["restart"] == "no"


def test_compose_asks_for_what_the_guide_tells_to_put_in_env():
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "compose.yaml").read_text()))
    env_block = OPERATIONS.split("PORTAL_HOST=portal.example.com", 1)[1].split("```", 1)[0]
    documented = {"PORTAL_HOST", *re.findall(r"^(\w+)=", env_block, re.MULTILINE)}
    assert required == {"PORTAL_HOST", "POSTGRES_PASSWORD"}
    assert required | {"SECRET_KEY", "K5_CREDENTIAL_KEYS", "METRICS_TOKEN"} <= documented


def unit(path: Path) -> ConfigParser:
    parser = ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys keep their case
    parser.read(path)
    return parser


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_the_units_run_the_entrypoint_as_the_portal_user(path):
    service = unit(path)["Service"]
    mode = path.stem.removeprefix("k5portal-")

    assert service["User"] == "k5portal"
    assert service["ExecStart"] == f"/opt/k5portal/deploy/docker-entrypoint.sh {mode}"
    assert service["EnvironmentFile"] == "/etc/k5portal/portal.env"
    assert service["RuntimeDirectory"] == "k5portal-metrics"
    assert service["RuntimeDirectoryPreserve"] == "yes"


def test_both_units_share_the_metrics_directory():
    directories = set()
    for path in UNITS:
        text = path.read_text()
        directories.update(re.findall(r"^Environment=PROMETHEUS_MULTIPROC_DIR=(.+)$", text, re.M))
    assert [path.name for path in UNITS] == ["k5portal-web.service", "k5portal-worker.service"]
    assert directories == {"/run/k5portal-metrics"}


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_accepts_the_units(tmp_path):
    # The units name /opt/k5portal; point them at this checkout so the command exists.
    for path in UNITS:
        text = path.read_text().replace("/opt/k5portal", str(ROOT))
        text = text.replace("EnvironmentFile=/", "EnvironmentFile=-/")
        (tmp_path / path.name).write_text(text)

    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_the_readme_names_every_variable_of_this_work():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for variable in (
        "LOG_FORMAT",
        "METRICS_TOKEN",
        "PROMETHEUS_MULTIPROC_DIR",
        "READYZ_MAX_TICK_AGE_SECONDS",
        "SECRET_KEY_FALLBACKS",
        "WEB_ACCESS_LOG",
        "MIGRATE_ON_START",
        "DB_WAIT_SECONDS",
        # The automation's limits (docs/automation.md).
        "ENGINE_SHUTDOWN_WAIT_SECONDS",
        "ENGINE_POWER_WAIT_SECONDS",
        "ENGINE_RESTORE_WAIT_SECONDS",
        "ENGINE_STEP_RESEND_SECONDS",
        "ENGINE_STEP_RETRY_SECONDS",
    ):
        assert f"`{variable}`" in table, variable
    layout = readme.split("## Layout", 1)[1]
    assert "`docs/`" in layout and "`deploy/`" in layout
