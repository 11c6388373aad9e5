"""Long copies with short-lived tokens, as Cinder makes them: it copies a volume into Glance with
the token that sent the upload, so a copy outliving that token leaves its image `saving` for
ever. gunicorn takes the submissions (the API, as internal tools send them), real qclusters
carry them; K5 tokens live 300 s and each copy takes minutes of K5's time.

Every job must succeed, and no image may be left in K5 that no job tracks.
"""

from __future__ import annotations

import pytest
import requests

from imaging.models import ApiToken, ImageJob, JobState
from tests.support.demo import CENTOS_BATCH, CENTOS_WEB, DATA_SMALL, UBUNTU_APP, demo_scenario
from tests.support.jobs import FINISHED
from tests.support.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SPEED = 30  # K5's 300 s token lives 10 real seconds
TOKEN_SECONDS = 300
SECONDS_PER_GB = 6  # a 30 GB copy takes 180 s of K5 time (6 real seconds), 40 GB 240 s
# What the portal expects of a copy, in real seconds (K5's rate at this speed, rounded up).
EXPECTED = {"ENGINE_EXPECTED_BASE_SECONDS": "2", "ENGINE_EXPECTED_SECONDS_PER_GB": "0.18"}


@pytest.fixture
def speed() -> int:
    return SPEED


@pytest.fixture
def sim(k5sim):
    scenario = demo_scenario()
    scenario["settings"].update(
        token_seconds=TOKEN_SECONDS,
        upload_base_seconds=0,
        upload_seconds_per_gb=SECONDS_PER_GB,
        sync_seconds=30,
    )
    k5sim.reset(speed=SPEED, scenario=scenario)
    return k5sim


def test_every_long_copy_succeeds_with_300_s_tokens_and_leaves_no_untracked_image(
    sim, project, bob, workers, web_server, settings
):
    for name, value in EXPECTED.items():
        setattr(settings, name, float(value))
    url, _log = web_server("short-tokens", **EXPECTED)
    workers.start("a", env=EXPECTED)
    workers.start("b", env=EXPECTED)
    tick = workers.ticker()
    _token, key = ApiToken.issue(bob, "short-token test")
    headers = {"Authorization": f"Token {key}"}

    volumes = {
        CENTOS_WEB: {},
        UBUNTU_APP: {},
        DATA_SMALL: {"os_family": "linux"},
        CENTOS_BATCH: {"force": True},  # attached to a stopped server
    }
    job_ids = []
    for n, (volume_id, extra) in enumerate(volumes.items()):
        answer = requests.post(
            f"{url}/api/v1/jobs/",
            json={
                "project": project.pk,
                "volume_id": volume_id,
                "image_name": f"short-token-{n}",
                "preparation_confirmed": True,
                **extra,
            },
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        job_ids.append(answer.json()["id"])

    jobs = list(ImageJob.objects.filter(pk__in=job_ids))
    wait_for(
        lambda: all(job.state in FINISHED for job in _fresh(jobs)),
        kick=tick,
        timeout=120,
        what="every job",
    )

    outcomes = {job.image_name: (job.state, job.error_message) for job in _fresh(jobs)}
    assert outcomes == {f"short-token-{n}": (JobState.SUCCEEDED, "") for n in range(4)}
    for job in jobs:
        sent = job.events.get(to_state=JobState.UPLOADING)
        assert sent.detail["token_expires_at"], "the token's expiry is on the audit event"
    tracked = set(ImageJob.objects.exclude(image_id="").values_list("image_id", flat=True))
    ours = [i for i in sim.state()["images"] if i["owner"] == project.k5_project_id]
    untracked = [
        (i["name"], i["status"])
        for i in ours
        if i["id"] not in tracked and i["name"].startswith("short-token")
    ]
    assert untracked == []
    assert {i["status"] for i in ours if i["id"] in tracked} == {"active"}


def _fresh(jobs: list[ImageJob]) -> list[ImageJob]:
    for job in jobs:
        job.refresh_from_db()
    return jobs
