"""K5 locks a user after 5 wrong passwords in 15 minutes, and one K5 user often serves several
portal projects: with a wrong password, all the worker processes of both clusters together try
it once, then leave the jobs waiting until an admin sets the right one."""

import pytest
from django_q.models import Task

from imaging.models import ImageJob, JobState
from tests.support.demo import CENTOS_WEB, RHEL_DB, UBUNTU_APP, WIN_AD
from tests.support.jobs import submit
from tests.support.simulator import TOKEN_REQUEST
from tests.support.workers import wait_for

TICKS = 8  # engine ticks to sit through with the wrong password


def ticks_run() -> int:
    """Engine ticks done so far by finished ticker tasks, whichever cluster ran them."""
    return sum(
        Task.objects.filter(func="imaging.tasks.run_ticker").values_list("result", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_a_rejected_password_is_tried_once_and_the_jobs_wait_for_a_new_one(
    sim, project, bob, workers
):
    # As many jobs as the window has slots: their send tasks run in several processes at once.
    jobs = [
        submit(project, bob, volume_id, f"image-{n}")
        for n, volume_id in enumerate([CENTOS_WEB, UBUNTU_APP, RHEL_DB, WIN_AD], start=1)
    ]
    project.set_password("not-the-password")  # changed after the jobs were queued
    project.save()
    sim.clear_requests()

    workers.start("a")
    workers.start("b")
    tick = workers.ticker()

    def keep_trying():
        tick()
        workers.enqueue("imaging.tasks.start_uploads", project.pk)
        workers.enqueue("imaging.tasks.start_uploads", project.pk)

    wait_for(
        lambda: all(j.waiting_reason for j in ImageJob.objects.filter(project=project)),
        kick=keep_trying,
        timeout=30,
        what="the jobs to say why they wait",
    )
    marked = ticks_run()
    wait_for(
        lambda: ticks_run() >= marked + TICKS,
        kick=keep_trying,
        timeout=30,
        what=f"{TICKS} more engine ticks",
    )

    project.refresh_from_db()
    assert not project.credentials_valid
    assert len(sim.requests_to(TOKEN_REQUEST)) == 1, "one password attempt in all"
    assert [r["status"] for r in sim.requests_to(TOKEN_REQUEST)] == [401]
    for job in ImageJob.objects.filter(project=project):
        assert job.state == JobState.QUEUED
        assert "rejected the credential" in job.waiting_reason
    others = [e for e in sim.requests_log() if e["template"] != TOKEN_REQUEST.split()[1]]
    assert not others, "no K5 call without a token"

    project.set_password("demo-password")
    project.save()
    wait_for(
        lambda: (
            ImageJob.objects.filter(project=project, state=JobState.SUCCEEDED).count() == len(jobs)
        ),
        kick=keep_trying,
        timeout=60,
        what="the jobs to proceed with the new password",
    )
