"""Long copies with short-lived tokens, as Cinder makes them: it copies a volume into Glance with
the token that sent the upload, so a copy outliving that token leaves its image `saving` for
ever. gunicorn takes the submissions (the API, as internal tools send them), real qclusters
carry them; K5 tokens live 300 s and each copy takes minutes of K5's time.

Every job must succeed, and no image may be left in K5 that no job tracks.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
import requests

from imaging.models import ApiToken, ImageJob, JobState, Membership, Role
from tests.support.demo import CENTOS_WEB, P2_CENTOS, UBUNTU_APP, demo_scenario
from tests.support.jobs import FINISHED
from tests.support.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SPEED = 30  # K5's 300 s token lives 10 real seconds
TOKEN_SECONDS = 300
UPLOAD_BASE_SECONDS, SECONDS_PER_GB = 60, 7  # 20 GB: 200 s of K5's time; 30 GB: 270 s (9 real s)
# What the portal expects of a copy, in real seconds: K5's rate at this speed, rounded up.
EXPECTED = {"ENGINE_EXPECTED_BASE_SECONDS": "1", "ENGINE_EXPECTED_SECONDS_PER_GB": "0.25"}
SPACING = 4  # seconds between submissions: the workers' tokens age between uploads


@pytest.fixture
def speed() -> int:
    return SPEED


@pytest.fixture
def sim(k5sim):
    scenario = demo_scenario()
    scenario["settings"].update(
        token_seconds=TOKEN_SECONDS,
        upload_base_seconds=UPLOAD_BASE_SECONDS,
        upload_seconds_per_gb=SECONDS_PER_GB,
        sync_seconds=30,
    )
    k5sim.reset(speed=SPEED, scenario=scenario)
    return k5sim


def test_every_long_copy_succeeds_with_300_s_tokens_and_leaves_no_untracked_image(
    sim, project, other_project, bob, workers, web_server, settings
):
    for name, value in EXPECTED.items():
        setattr(settings, name, float(value))
    other_project.upload_window_seconds = project.upload_window_seconds
    other_project.save()
    Membership.objects.create(user=bob, project=other_project, role=Role.MEMBER)
    url, _log = web_server("short-tokens", **EXPECTED)
    # One worker process: each upload leaves with whatever token that process holds by then
    # (several processes would each start with a fresh one).
    workers.start("a", env={**EXPECTED, "Q_WORKERS": "1"})
    tick = workers.ticker()
    _token, key = ApiToken.issue(bob, "short-token test")
    headers = {"Authorization": f"Token {key}"}

    # Spaced, so that each upload leaves when the token the workers hold has aged: kept, it
    # would have less life left than the copy takes.
    wanted = [(project, CENTOS_WEB), (other_project, P2_CENTOS), (project, UBUNTU_APP)]
    job_ids = []
    for n, (where, volume_id) in enumerate(wanted):
        if n:
            time.sleep(SPACING)
        answer = requests.post(
            f"{url}/api/v1/jobs/",
            json={
                "project": where.pk,
                "volume_id": volume_id,
                "image_name": f"short-token-{n}",
                "preparation_confirmed": True,
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
    assert outcomes == {f"short-token-{n}": (JobState.SUCCEEDED, "") for n in range(3)}
    for job in jobs:
        sent = job.events.get(to_state=JobState.UPLOADING)
        expires = datetime.fromisoformat(sent.detail["token_expires_at"])
        assert expires > job.submitted_at + timedelta(seconds=sent.detail["expected_copy_seconds"])
    tracked = set(ImageJob.objects.exclude(image_id="").values_list("image_id", flat=True))
    made = [i for i in sim.state()["images"] if i["name"].startswith("short-token")]
    assert [(i["name"], i["status"]) for i in made if i["id"] not in tracked] == []
    assert {i["status"] for i in made} == {"active"}


def _fresh(jobs: list[ImageJob]) -> list[ImageJob]:
    for job in jobs:
        job.refresh_from_db()
    return jobs
