"""The README's run command brings the portal up with the simulator and a qcluster."""

import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from tests.support.simulator import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_bin_run_serves_the_portal_seeded_with_the_demo_and_stops_on_sigterm(tmp_path):
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"PORT": str(port), "K5SIM_PORT": str(sim_port), "PORTAL_VAR_DIR": str(tmp_path)}
    run = subprocess.Popen(
        [str(ROOT / "bin" / "run")],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Press Ctrl-C" in line:
                break
        banner = "".join(output)
        assert f"http://127.0.0.1:{port}/" in banner, banner
        assert "demo / demo-password" in banner
        assert f"http://127.0.0.1:{sim_port}/identity/v3" in banner

        web = requests.Session()
        login = web.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
        assert login.status_code == 200
        home = web.post(
            f"http://127.0.0.1:{port}/accounts/login/",
            data={
                "username": "demo",
                "password": "demo-password",
                "csrfmiddlewaretoken": web.cookies["csrftoken"],
            },
            headers={"Referer": login.url},
            timeout=10,
        )
        assert home.status_code == 200
        assert "demo-project-1" in home.text and "demo-project-2" in home.text

        # A person signs in with their K5 account (the demo's view-user, a K5 reader).
        person = requests.Session()
        login = person.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
        dashboard = person.post(
            f"http://127.0.0.1:{port}/accounts/login/k5/",
            data={
                "k5-contract": "demo",
                "k5-username": "view-user",
                "k5-password": "view-password",
                "csrfmiddlewaretoken": person.cookies["csrftoken"],
            },
            headers={"Referer": login.url},
            timeout=20,
        )
        assert dashboard.status_code == 200 and "demo/view-user" in dashboard.text
        assert "demo-project-1" in dashboard.text and "demo-project-2" not in dashboard.text

        sim = requests.get(f"http://127.0.0.1:{sim_port}/_sim/health", timeout=10)
        assert sim.json() == {"ok": True}
        assert (tmp_path / "log" / "qcluster.log").exists()
        time.sleep(2)
        assert "running" in (tmp_path / "log" / "qcluster.log").read_text().lower()
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=60)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, "".join(output)
    # Every process it started has stopped: no one answers on either port any more.
    for stopped_port in (port, sim_port):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{stopped_port}/", timeout=2)
