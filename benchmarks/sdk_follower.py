"""The peers' way, for benchmarks/tracking_cost.py: openstacksdk uploads each volume and then
follows it with `wait_for_status` (its default 2 s interval), one thread per volume.

Reads one JSON line on stdin: {"auth_url", "contract", "user", "password", "region",
"interval", "volumes": {K5 project id: [volume id, ...]}}. Uploads every volume, prints
{"sent": n}, waits for a line "go", follows every volume until it is `available` again, and
prints {"detected": {volume id: epoch seconds}, "cpu": seconds since "go", "maxrss": bytes}.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openstack


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    connections = {
        project_id: openstack.connect(
            auth_url=spec["auth_url"],
            username=spec["user"],
            password=spec["password"],
            user_domain_name=spec["contract"],
            project_id=project_id,
            region_name=spec["region"],
            block_storage_api_version="2",
            load_yaml_config=False,
            load_envvars=False,
        )
        for project_id in spec["volumes"]
    }
    pairs = [(pid, vid) for pid, ids in spec["volumes"].items() for vid in ids]

    def upload(pair):
        conn = connections[pair[0]]
        volume = conn.block_storage.get_volume(pair[1])
        conn.block_storage.upload_volume_to_image(volume, f"sdk-{pair[1]}", force=False)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(upload, pairs))
    print(json.dumps({"sent": len(pairs)}), flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1

    started = resource.getrusage(resource.RUSAGE_SELF)
    detected: dict[str, float] = {}
    lock = threading.Lock()

    def follow(pair):
        conn = connections[pair[0]]
        volume = conn.block_storage.get_volume(pair[1])
        conn.block_storage.wait_for_status(
            volume, "available", failures=["error"], interval=spec["interval"], wait=7200
        )
        with lock:
            detected[pair[1]] = time.time()

    threads = [threading.Thread(target=follow, args=(pair,), daemon=True) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ended.ru_utime + ended.ru_stime) - (started.ru_utime + started.ru_stime)
    print(json.dumps({"detected": detected, "cpu": cpu, "maxrss": ended.ru_maxrss * 1024}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
