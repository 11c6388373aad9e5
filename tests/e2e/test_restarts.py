"""The fault matrix's last two rows: PostgreSQL, or Redis, restarted while two clusters carry
jobs — on throwaway servers of their own (benchmarks/restart_drill.py makes them on free
ports and removes them; the shared 5432/6379 servers are never touched). Every job still
succeeds, with one upload call per volume."""

import json
import subprocess
import sys

import pytest

from tests.support.simulator import ROOT

DRILL = ROOT / "benchmarks" / "restart_drill.py"


@pytest.mark.parametrize("server", ["postgres", "redis"])
def test_a_server_restarted_mid_run_loses_no_job_and_duplicates_no_upload(server, tmp_path):
    result_path = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, str(DRILL), "--restart", server, "--json", str(result_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    if '"skipped"' in run.stdout:
        pytest.skip(json.loads(run.stdout)["skipped"])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(result_path.read_text())
    assert [job["state"] for job in result["jobs"]] == ["succeeded"] * len(result["jobs"])
    assert set(result["upload_calls_per_volume"].values()) == {1}
