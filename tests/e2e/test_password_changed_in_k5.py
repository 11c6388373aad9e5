"""A password changed in K5 while two clusters (four worker processes) and the web server use
the project: K5 revokes the user's tokens, so every process holding one meets a 401 at its next
call — and the old password is still sent only once in all, under the sign-in lease, instead of
once per process (five lock the K5 user). The jobs being followed wait without failing, a
submission through the API is told K5 cannot be asked, and all goes on once an admin enters
the new password."""

import pytest
import requests
from django_q.models import Task

from imaging.models import ApiToken, ImageJob, JobState
from tests.api.client import job_body
from tests.support.demo import CENTOS_WEB, DATA_SMALL, UBUNTU_APP, WIN_AD, demo_scenario
from tests.support.jobs import submit
from tests.support.simulator import TOKEN_REQUEST
from tests.support.workers import wait_for

LIST_VOLUMES = "tests.e2e.worker_k5_calls.list_volumes"
PROCESSES = 4  # two clusters of Q_WORKERS=2


def answers(label: str) -> list[str]:
    """What the volume listings enqueued under `label` answered: "<pid> <outcome>" each."""
    results = Task.objects.filter(func=LIST_VOLUMES).values_list("result", flat=True)
    return [r.split(" ", 1)[1] for r in results if r and r.split(" ", 1)[0] == label]


def call_k5_from_every_process(workers, project, label: str, *, rounds: int) -> list[str]:
    """Enqueue `rounds` x PROCESSES volume listings at once; each holds its worker a moment,
    so every process takes some. Their answers: "<pid> <outcome>"."""
    for _ in range(rounds * PROCESSES):
        workers.enqueue(LIST_VOLUMES, project.pk, label, 0.3)
    return wait_for(
        lambda: (found := answers(label)) and len(found) == rounds * PROCESSES and found,
        timeout=60,
        what=f"the volume listings {label!r}",
    )


@pytest.mark.django_db(transaction=True)
def test_a_password_changed_in_k5_is_tried_once_by_all_the_workers_and_the_web_server(
    sim, speed, project, bob, workers, web_server
):
    scenario = demo_scenario()
    scenario["settings"]["token_seconds"] = 3 * 3600 * speed
    scenario["settings"]["upload_seconds_per_gb"] = 600  # uploads of ~20-30 real seconds
    sim.reset(speed=speed, scenario=scenario)
    jobs = [submit(project, bob, CENTOS_WEB, "web"), submit(project, bob, UBUNTU_APP, "app")]

    workers.start("a")
    workers.start("b")
    tick = workers.ticker(every=0.5)
    wait_for(
        lambda: all(j.state == JobState.UPLOADING for j in ImageJob.objects.all()),
        kick=tick,
        timeout=30,
        what="both uploads to be running",
    )
    url, _log = web_server("password-changed")
    _token, key = ApiToken.issue(bob, "password test")
    api = requests.Session()
    api.headers["Authorization"] = f"Token {key}"
    # The web server checks a submission with K5 itself: it holds a token too.
    checked = api.post(
        f"{url}/api/v1/jobs/",
        json=job_body(project, DATA_SMALL, "small", os_family="linux"),
        timeout=60,
    )
    assert checked.status_code == 201, checked.text
    warm = call_k5_from_every_process(workers, project, "before", rounds=3)
    holders = {answer.split()[0] for answer in warm}
    # One worker at a time runs the ticker chain (which polls, so it holds a token too).
    assert len(holders) >= PROCESSES - 1, f"the worker processes hold tokens: {warm}"
    signed_in = len(sim.requests_to(TOKEN_REQUEST))

    sim.control("PATCH", "users/demo-user", json={"password": "changed-in-k5"})
    after = call_k5_from_every_process(workers, project, "after", rounds=2)
    refused_by_portal = api.post(
        f"{url}/api/v1/jobs/", json=job_body(project, WIN_AD, "ad"), timeout=60
    )
    assert refused_by_portal.status_code == 503, refused_by_portal.text
    assert refused_by_portal.json()["error"]["code"] == "k5_unavailable"
    wait_for(
        lambda: all(j.waiting_reason for j in ImageJob.objects.all()),
        kick=tick,
        timeout=30,
        what="the jobs to say why they wait",
    )

    refused = [r["status"] for r in sim.requests_to(TOKEN_REQUEST)][signed_in:]
    assert refused == [401], f"the old password was sent once in all: {after}"
    assert all("CredentialsInvalid" in answer for answer in after)
    assert len({answer.split()[0] for answer in after}) > 1, "several processes met the 401"
    user = next(u for u in sim.state()["users"] if u["name"] == "demo-user")
    assert user["recent_failed_logins"] == 1 and user["locked_until"] is None
    project.refresh_from_db()
    assert not project.credentials_valid
    assert not ImageJob.objects.filter(state=JobState.FAILED).exists()
    for job in ImageJob.objects.filter(pk__in=[job.pk for job in jobs]):
        assert job.state == JobState.UPLOADING, "K5's refusal of a token fails no job"
        assert "rejected the credential" in job.waiting_reason

    project.set_password("changed-in-k5")
    project.save()
    wait_for(
        lambda: ImageJob.objects.filter(state=JobState.SUCCEEDED).count() == len(jobs) + 1,
        kick=tick,
        timeout=90,
        what="the jobs to finish with the new password",
    )
    assert [r["status"] for r in sim.requests_to(TOKEN_REQUEST)].count(401) == 1
