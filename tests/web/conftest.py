"""Page tests: the cast of tests/support/cast.py (alice the admin of `project`, bob a member
who requests the jobs, dana another member, victor a viewer, pat in `other_project` only,
charlie in no project, stella staff) using the portal in a browser-like client.

`signed_in(user)` is a test client with that user's session. Pages are read through
tests/web/page.py's `page()`, which parses the HTML, so tests say what a reader would see
("the error next to the image name") rather than match strings in markup.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.fixture
def signed_in(db):
    """`signed_in(bob)`: a client with bob's session; `signed_in(None)`: anonymous."""

    def client_for(user: User | None, **options) -> Client:
        client = Client(**options)
        if user is not None:
            client.force_login(user)
        return client

    return client_for
