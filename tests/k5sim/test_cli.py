"""`python -m k5sim`: the auth URL line, --speed, --scenario files and their errors."""

import json
import re
import subprocess
import sys
from datetime import datetime

import pytest
import requests

from tests.k5sim.client import authenticate, password_auth
from tests.support.simulator import ROOT, start_simulator


def small_scenario() -> dict:
    return {
        "region": "uk-1",
        "zones": [
            {"name": "uk-1a", "image_server": "http://198.51.100.1:9292"},
            {"name": "uk-1b", "image_server": "http://198.51.100.2:9292"},
        ],
        "settings": {"upload_limit": 1, "sync_seconds": 30},
        "domains": [{"name": "contract-77"}],
        "projects": [
            {"id": "bbbb0000000000000000000000000001", "name": "ops", "domain": "contract-77"}
        ],
        "users": [
            {"name": "alice", "domain": "contract-77", "password": "s3cret", "projects": ["ops"]}
        ],
        "os_catalog": {"linux": {"os_type": "linux", "image_name": "Base Linux"}},
        "servers": [
            {
                "id": "srv-1",
                "name": "app",
                "project": "ops",
                "status": "SHUTOFF",
                "availability_zone": "uk-1b",
            }
        ],
        "volumes": [
            {
                "id": "vol-1",
                "name": "app-root",
                "project": "ops",
                "size": 8,
                "os": "linux",
                "status": "in-use",
                "server": "srv-1",
                "availability_zone": "uk-1b",
            },
            {"id": "vol-2", "name": "spare", "project": "ops", "size": 2},
        ],
    }


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "k5sim", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def alice_login(sim):
    return authenticate(
        sim,
        password_auth(
            {"name": "alice", "domain": {"name": "contract-77"}, "password": "s3cret"},
            {"project": {"name": "ops", "domain": {"name": "contract-77"}}},
        ),
    )


def test_the_first_output_line_is_the_auth_url(k5sim_process):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/identity/v3", k5sim_process.auth_url)
    assert requests.get(k5sim_process.auth_url, timeout=10).status_code == 200


def test_a_scenario_file_replaces_the_demo(tmp_path):
    path = tmp_path / "uk.json"
    path.write_text(json.dumps(small_scenario()))
    sim = start_simulator("--scenario", str(path), "--speed", "60")
    try:
        response = alice_login(sim)
        assert response.status_code == 201
        token = response.json()["token"]
        assert {e["endpoints"][0]["region"] for e in token["catalog"]} == {"uk-1"}
        life = datetime.fromisoformat(token["expires_at"].rstrip("Z")) - datetime.fromisoformat(
            token["issued_at"].rstrip("Z")
        )
        assert life.total_seconds() == 180  # --speed 60
        headers = {"X-Auth-Token": response.headers["X-Subject-Token"]}
        url = f"{sim.base_url}/blockstorage/v2/bbbb0000000000000000000000000001/volumes"
        volume = requests.get(f"{url}/vol-1", headers=headers, timeout=10).json()["volume"]
        assert volume["status"] == "in-use"
        assert volume["volume_image_metadata"] == {"os_type": "linux", "image_name": "Base Linux"}
        assert volume["attachments"][0]["server_id"] == "srv-1"
        upload = {"os-volume_upload_image": {"image_name": "x"}}
        assert (
            requests.post(
                f"{url}/vol-2/action", json=upload, headers=headers, timeout=10
            ).status_code
            == 202
        )
        assert (
            requests.post(
                f"{url}/vol-1/action", json=upload, headers=headers, timeout=10
            ).status_code
            == 413
        )  # upload_limit 1
        sim.reset()  # back to the file's scenario, not the demo
        assert alice_login(sim).status_code == 201
    finally:
        sim.stop()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s["volumes"][0].update(size="big"), "volumes[0].size"),
        (lambda s: s["volumes"][1].update(project="nobody"), "volumes[1].project"),
        (lambda s: s["volumes"][0].pop("server"), "volumes[0]: an attached volume needs 'server'"),
        (lambda s: s["settings"].update(upload_limit=0), "settings.upload_limit"),
        (lambda s: s["users"][0].update(colour="blue"), "users[0]: unknown key 'colour'"),
        (lambda s: s.pop("zones"), "missing required key 'zones'"),
        (
            lambda s: s["volumes"][1].update(availability_zone="jp-east-1a"),
            "volumes[1].availability_zone",
        ),
    ],
)
def test_a_bad_scenario_file_stops_with_a_clear_message(tmp_path, change, expected):
    scenario = small_scenario()
    change(scenario)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(scenario))

    result = run_cli("--scenario", str(path))

    assert result.returncode == 2
    assert result.stdout == ""
    assert expected in result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_json_and_missing_files_are_reported(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"region": "uk-1",\n  "zones": [}')

    not_json = run_cli("--scenario", str(broken))
    missing = run_cli("--scenario", str(tmp_path / "absent.json"))

    assert not_json.returncode == 2 and "line 2" in not_json.stderr
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert "Traceback" not in not_json.stderr + missing.stderr


def test_start_simulator_fails_loudly_on_a_bad_scenario(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("[]")

    with pytest.raises(RuntimeError):
        start_simulator("--scenario", str(path))


def test_a_bad_speed_is_refused(tmp_path):
    result = run_cli("--speed", "0")

    assert result.returncode == 2
    assert "speed" in result.stderr
