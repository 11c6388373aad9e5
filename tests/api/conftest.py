"""API tests: the cast of tests/support/cast.py (alice the admin of `project`, bob a member
who requests the jobs, dana another member, victor a viewer, pat in `other_project` only,
charlie in no project, stella staff) calling the API as a tool would.

`api(user)` is a client that sends that user's API token (`api(None)`: anonymous). Jobs are
created through the API when the test is about creating them, and as rows
(tests/support/jobs.py's `make_job`) when a test needs a job in a given state.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from imaging.models import ApiToken
from tests.api.client import Api


@pytest.fixture
def api(db) -> Callable[[User | None], Api]:
    """`api(bob)`: a client sending a fresh API token of bob's; `api(None)`: no token."""

    def for_user(user: User | None) -> Api:
        if user is None:
            return Api()
        _token, key = ApiToken.issue(user, "tests")
        return Api(key)

    return for_user
