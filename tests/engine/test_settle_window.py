"""How long an active image is watched for a failed zone registration: base + per GB of the
image, the portal's or the project's own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import User

from imaging.engine.polling import image_size_gb
from imaging.k5.types import Image
from imaging.models import JobState
from tests.support.jobs import poll, run_to_uploading, submit
from tests.support.simulator import ROOT

UPLOAD_SECONDS = 60 + 12 * 30  # the 30 GB volume
GIB = 1024**3


def to_verifying(k5sim, project, bob):
    job = run_to_uploading(project, submit(project, bob))
    k5sim.advance(UPLOAD_SECONDS + 10)
    poll(project)
    job.refresh_from_db()
    assert job.state == JobState.VERIFYING
    return job


def window(job) -> float:
    return (job.sync_watch_until - job.upload_finished_at).total_seconds()


@pytest.mark.django_db
def test_the_window_is_the_base_plus_the_images_size_times_the_per_gb_time(
    k5sim, project, bob, settings
):
    settings.ENGINE_SYNC_SETTLE_BASE_SECONDS = 100
    settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB = 2

    job = to_verifying(k5sim, project, bob)

    assert window(job) == 100 + 30 * 2
    moved = job.events.get(to_state=JobState.VERIFYING)
    assert moved.detail["size_gb"] == 30 and moved.detail["settle_seconds"] == 160
    assert "(watched for 3 min, for 30 GB)" in moved.message
    k5sim.advance(200)
    poll(project, later=150)
    job.refresh_from_db()
    assert job.state == JobState.VERIFYING
    poll(project, later=165)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED


@pytest.mark.django_db
def test_a_project_can_set_its_own_base_and_per_gb_time(k5sim, project, bob, settings):
    settings.ENGINE_SYNC_SETTLE_BASE_SECONDS = 600
    settings.ENGINE_SYNC_SETTLE_SECONDS_PER_GB = 10
    project.sync_settle_base_seconds = 20
    project.sync_settle_seconds_per_gb = 0.5
    project.save()

    job = to_verifying(k5sim, project, bob)

    assert window(job) == 20 + 30 * 0.5
    project.sync_settle_base_seconds = None  # only the per-GB time overridden
    assert project.sync_settle_seconds(100) == 600 + 50


def test_the_size_is_the_images_as_k5_reports_it_else_the_volumes():
    class Job:
        volume_size_gb = 30

    assert image_size_gb(Image.from_api({"id": "i", "size": 31 * GIB + 1}), Job()) == 32
    assert image_size_gb(Image.from_api({"id": "i", "size": None}), Job()) == 30


@pytest.mark.django_db
def test_the_admin_shows_the_projects_settle_times(client, project):
    client.force_login(User.objects.create_superuser("root", password="root-password-1"))

    page = client.get(f"/admin/imaging/k5project/{project.pk}/change/").content.decode()

    assert 'name="sync_settle_base_seconds"' in page
    assert 'name="sync_settle_seconds_per_gb"' in page


def settings_from(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_SYNC_SETTLE")}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.ENGINE_SYNC_SETTLE_BASE_SECONDS, s.ENGINE_SYNC_SETTLE_SECONDS_PER_GB)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "printed"),
    [
        ({}, "600.0 10.0"),
        (
            {"ENGINE_SYNC_SETTLE_BASE_SECONDS": "300", "ENGINE_SYNC_SETTLE_SECONDS_PER_GB": "3"},
            "300.0 3.0",
        ),
        ({"ENGINE_SYNC_SETTLE_SECONDS": "900"}, "900.0 10.0"),  # the old name, read as the base
    ],
)
def test_the_settings_and_the_old_name(env, printed):
    result = settings_from(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == printed


def test_both_names_at_once_stop_start_up():
    result = settings_from(ENGINE_SYNC_SETTLE_SECONDS="900", ENGINE_SYNC_SETTLE_BASE_SECONDS="300")
    assert result.returncode != 0
    assert "set only ENGINE_SYNC_SETTLE_BASE_SECONDS" in result.stderr
