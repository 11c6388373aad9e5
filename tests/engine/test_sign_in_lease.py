"""Every password the engine sends goes through the per-project sign-in lease — the first
sign-in, and the new one after K5 refused a token (keystoneauth would send that one by itself,
from whichever process got the 401).

Worker processes are played by separate client caches: each has its own K5 client and token,
as each process of a cluster does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from imaging.engine import connections
from imaging.engine.errors import CredentialsInvalid
from imaging.engine.pacing import start_due_uploads
from imaging.engine.polling import poll_project
from imaging.engine.upload import send_upload
from imaging.k5 import K5Unavailable
from imaging.models import EngineLease, EventKind, JobState, K5Project, UploadAttempt
from tests.support.demo import DEMO_PASSWORD, UBUNTU_APP
from tests.support.jobs import make_job, run_to_uploading, submit

TOKEN_PATH = "/identity/v3/auth/tokens"


@contextmanager
def process(name: str, caches: dict[str, dict]) -> Iterator[None]:
    """Run the block as worker process `name`: with that process's own client cache."""
    own = caches.setdefault(name, {})
    saved = connections._clients
    connections._clients = own
    try:
        yield
    finally:
        connections._clients = saved


def token_answers(k5sim) -> list[int]:
    return [e["status"] for e in k5sim.requests_log() if e["path"] == TOKEN_PATH]


def calls(k5sim, path_end: str) -> list[tuple[str, int]]:
    return [
        (e["method"], e["status"]) for e in k5sim.requests_log() if e["path"].endswith(path_end)
    ]


@pytest.mark.django_db
def test_after_a_password_change_in_k5_one_process_in_all_tries_the_old_one(k5sim, project, bob):
    job = run_to_uploading(project, submit(project, bob))
    caches: dict[str, dict] = {}
    workers = ["a", "b", "c", "d", "e", "f"]
    for name in workers:
        with process(name, caches):
            connections.client_for(project)  # each process signed in, holding its own token
    assert token_answers(k5sim) == [201] * (1 + len(workers))  # + the one that sent the upload
    # What each process read before the change, as a task that loaded the project did.
    read_before = {name: K5Project.objects.get(pk=project.pk) for name in workers}

    k5sim.control("PATCH", "users/demo-user", json={"password": "changed-in-k5"})
    k5sim.clear_requests()
    errors = []
    for name in workers:
        with process(name, caches):
            errors.append(poll_project(read_before[name]).error)

    assert token_answers(k5sim) == [401], "the old password was sent once, by one process"
    user = next(u for u in k5sim.state()["users"] if u["name"] == "demo-user")
    assert user["recent_failed_logins"] == 1 and user["locked_until"] is None
    assert all("rejected the credential" in error for error in errors)
    project.refresh_from_db()
    assert not project.credentials_valid
    job.refresh_from_db()
    assert job.state == JobState.UPLOADING, "K5's refusal of a token fails no job"
    assert "rejected the credential" in job.waiting_reason

    k5sim.clear_requests()
    for name in workers:  # the jobs' polling sends nothing until an admin fixes it
        with process(name, caches):
            poll_project(K5Project.objects.get(pk=project.pk))
    assert k5sim.requests_log() == []


@pytest.mark.django_db
def test_a_refused_token_is_replaced_under_the_lease_and_the_call_made_once_more(
    k5sim, project, bob
):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.control("DELETE", "tokens")
    k5sim.clear_requests()

    result = poll_project(project)

    assert not result.error
    assert token_answers(k5sim) == [201]
    assert calls(k5sim, "/volumes/detail") == [("GET", 401), ("GET", 200)]
    job.refresh_from_db()
    assert job.state == JobState.UPLOADING


@pytest.mark.django_db
def test_no_password_leaves_while_another_process_holds_the_lease(k5sim, project, bob, settings):
    settings.K5_CONNECT_TIMEOUT = settings.K5_READ_TIMEOUT = 0.2  # a 5.4 s wait for the lease
    connections.forget_clients()
    run_to_uploading(project, submit(project, bob))
    k5sim.control("DELETE", "tokens")
    assert EngineLease.acquire(
        connections.sign_in_lease(project.k5_config()), "another-process", 60
    )
    k5sim.clear_requests()

    result = poll_project(project)

    assert "Another worker has been signing in to K5" in result.error
    assert token_answers(k5sim) == [], "keystoneauth did not sign in by itself"
    assert calls(k5sim, "/volumes/detail") == [("GET", 401)]


@pytest.mark.django_db
def test_an_upload_refused_for_its_token_is_sent_once_more_after_signing_in(k5sim, project, bob):
    job = submit(project, bob, volume_id=UBUNTU_APP, image_name="small")
    connections.client_for(project)
    k5sim.control("DELETE", "tokens")
    k5sim.clear_requests()

    job = run_to_uploading(project, job)

    assert job.state == JobState.UPLOADING
    assert calls(k5sim, f"{UBUNTU_APP}/action") == [("POST", 401), ("POST", 202)]
    assert token_answers(k5sim) == [201]
    assert [u["image_id"] for u in k5sim.state()["uploads"] if u["volume_id"] == UBUNTU_APP] == [
        job.image_id
    ]
    assert UploadAttempt.objects.get(job=job).outcome == "accepted"
    recorded = [
        (e.detail["method"], e.detail["status"]) for e in job.events.filter(kind=EventKind.K5_CALL)
    ]
    assert recorded == [("POST", 401), ("POST", 201), ("POST", 202)]


@pytest.mark.django_db
def test_an_upload_whose_credential_is_rejected_on_signing_in_again_waits_unsent(
    k5sim, project, bob
):
    job = submit(project, bob, volume_id=UBUNTU_APP, image_name="small")
    connections.client_for(project)
    k5sim.control("PATCH", "users/demo-user", json={"password": "changed-in-k5"})
    k5sim.clear_requests()

    start_due_uploads(project)
    assert send_upload(job.pk) == "requeued: not_sent"

    assert token_answers(k5sim) == [401]
    assert calls(k5sim, f"{UBUNTU_APP}/action") == [("POST", 401)]
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert "rejected the credential" in job.waiting_reason
    assert UploadAttempt.objects.get(job=job).outcome == "not_sent"


def copies_of(project: K5Project, count: int) -> list[K5Project]:
    """More portal projects signing in as the same K5 user with the same password, as every
    project of a contract often does."""
    copies = []
    for _ in range(count):
        copy = K5Project.objects.get(pk=project.pk)
        copy.pk, copy.name = None, f"{project.name}-copy-{K5Project.objects.count()}"
        copy.set_password(DEMO_PASSWORD)  # encrypted anew: the same password, another text
        copy.save()
        copies.append(copy)
    return copies


@pytest.mark.django_db
def test_projects_sharing_a_k5_user_send_its_changed_password_once_in_all(k5sim, project, bob):
    shared = [project, *copies_of(project, 5)]
    updated = copies_of(project, 1)[0]  # an admin already gave this one the new password
    updated.set_password("changed-in-k5")
    updated.save()
    waiting = make_job(shared[3], bob, image_name="waits")
    connections.forget_clients()
    k5sim.control("PATCH", "users/demo-user", json={"password": "changed-in-k5"})
    k5sim.clear_requests()

    for each in shared:
        with pytest.raises(CredentialsInvalid):
            connections.client_for(K5Project.objects.get(pk=each.pk))

    assert token_answers(k5sim) == [401], "the old password was sent once, for all six"
    user = next(u for u in k5sim.state()["users"] if u["name"] == "demo-user")
    assert user["recent_failed_logins"] == 1 and user["locked_until"] is None
    assert not any(K5Project.objects.get(pk=each.pk).credentials_valid for each in shared)
    waiting.refresh_from_db()
    assert "K5 rejected the credential of demo-user" in waiting.waiting_reason
    assert f"signing in for project {project.name}" in shared[3].events.get(kind="note").message

    connections.client_for(K5Project.objects.get(pk=updated.pk))  # its own password: signed in
    assert token_answers(k5sim) == [401, 201]
    assert K5Project.objects.get(pk=updated.pk).credentials_valid


@pytest.mark.django_db
def test_a_password_just_accepted_signs_in_the_users_other_projects_at_once(
    k5sim, project, settings
):
    """A cold start of many projects of one user does not queue them behind one lease: the
    password K5 has just accepted in this process goes for the others without it."""
    settings.K5_CONNECT_TIMEOUT = settings.K5_READ_TIMEOUT = 0.2  # a 5.4 s wait for the lease
    others = copies_of(project, 3)
    connections.forget_clients()
    connections.client_for(project)  # K5 accepts the password: this process has seen it
    lease = connections.sign_in_lease(project.k5_config())
    assert EngineLease.acquire(lease, "another-process", 60)
    k5sim.clear_requests()

    for each in others:
        connections.client_for(K5Project.objects.get(pk=each.pk))

    assert token_answers(k5sim) == [201, 201, 201]
    # A new process (no password seen yet) waits for the lease instead.
    connections.forget_clients()
    with pytest.raises(K5Unavailable, match="Another worker has been signing in to K5"):
        connections.client_for(K5Project.objects.get(pk=others[0].pk))
    assert token_answers(k5sim) == [201, 201, 201]
