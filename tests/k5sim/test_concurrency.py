"""Many clients at once: every answer is well formed and the state stays consistent."""

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.k5sim.client import login
from tests.support.demo import demo_scenario

PROJECTS = 10
VOLUMES_PER_PROJECT = 300


def test_concurrent_uploads_and_polls_across_projects(k5sim):
    scenario = demo_scenario()
    scenario["settings"]["upload_limit"] = 1000
    for n in range(PROJECTS):
        scenario["projects"].append({"name": f"load-{n}", "domain": "demo"})
        scenario["users"][0]["projects"].append(f"load-{n}")
    k5sim.reset(scenario=scenario)
    apis = [login(k5sim, f"load-{n}") for n in range(PROJECTS)]
    work = []
    for api in apis:
        ids = k5sim.control(
            "POST",
            f"projects/{api.project_id}/volumes",
            json={"count": VOLUMES_PER_PROJECT, "size": 2},
        ).json()["ids"]
        work.extend((api, volume_id) for volume_id in ids[:30])
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        return local.http

    def upload(item):
        api, volume_id = item
        response = session().post(
            f"{api.volumes_url()}/{volume_id}/action",
            json={"os-volume_upload_image": {"image_name": volume_id}},
            headers={"X-Auth-Token": api.token},
            timeout=30,
        )
        return response.status_code

    def poll(api):
        response = session().get(
            f"{api.volumes_url()}/detail", headers={"X-Auth-Token": api.token}, timeout=30
        )
        body = response.json()
        return response.status_code, sum(v["status"] == "uploading" for v in body["volumes"])

    with ThreadPoolExecutor(64) as pool:
        uploads = pool.map(upload, work)
        polls = pool.map(poll, apis * 5)
        upload_statuses, poll_results = list(uploads), list(polls)

    assert upload_statuses == [202] * len(work)
    assert all(status == 200 for status, _ in poll_results)
    state = k5sim.state()
    assert sum(u["state"] == "running" for u in state["uploads"]) == len(work) + 1  # + demo's
    assert len({u["image_id"] for u in state["uploads"]}) == len(state["uploads"])

    k5sim.advance(60 + 2 * 12 + 1)

    assert all(poll(api) == (200, 0) for api in apis)
