"""End-to-end tests: real `manage.py qcluster` processes (the `workers` fixture) run the engine
against the live simulator, on the committed test database (tests are
`django_db(transaction=True)`).

K5 runs `speed` times faster than real, and the project's own pacing window is set to K5's
hour at that speed. The cast is the usual one (tests/support/cast.py): alice is the
project's admin, bob a member.
"""

from __future__ import annotations

import pytest

from imaging.models import K5Project


@pytest.fixture
def speed() -> int:
    """How many times faster than real K5 runs: its hourly upload window lasts 6 s."""
    return 600


@pytest.fixture
def sim(k5sim, speed):
    k5sim.speed_up(speed)
    return k5sim


@pytest.fixture
def project(transactional_db, sim, speed, project) -> K5Project:
    """The cast's demo-project-1, committed for the workers to see, paced to K5's faster hour."""
    project.upload_window_seconds = 3600 // speed
    project.save()
    return project
