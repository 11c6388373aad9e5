"""schemathesis against our own schema: every operation, with data generated from the schema
(valid and invalid), called through the WSGI app with a project admin's token while the
simulator runs — no 5xx, and every answer as the schema documents it."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from imaging.models import ApiToken, JobState
from portal.wsgi import application
from tests.support.cast import make_user
from tests.support.demo import UBUNTU_APP
from tests.support.jobs import make_job
from tests.support.simulator import ROOT

# 15 examples per operation keep CI within its time; API_FUZZ_EXAMPLES=300 digs deeper.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "15"))

schema = schemathesis.openapi.from_path(ROOT / "imaging" / "api" / "openapi.yaml")
schema.app = application
# DRF refuses a NUL character in every text field with a 400, which OpenAPI could only say
# with a pattern on each; tests/api/test_errors.py pins that answer instead.
schema.config.generation.update(allow_x00=False)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The WSGI handler closes database connections after each request; the test's
    transaction lives on one. Django's test client disconnects these handlers the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(project):
    alice = make_user("alice", project, "admin")
    make_job(project, alice)
    make_job(project, alice, volume_id=UBUNTU_APP, image_name="app-golden", state=JobState.FAILED)
    _token, key = ApiToken.issue(alice, "schemathesis")
    return key


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_documented(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"})
