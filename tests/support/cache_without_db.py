"""A pytest plugin (registered in tests/conftest.py): the portal's cache may be the database.

pytest-django opens the database only to tests that ask for it, and only once their own
fixtures run, after the autouse fixture that empties the cache before every test. With the
database cache that fixture needs the database, so:
- a test that uses the database gets it opened first, and keeps the database cache, as in
  production;
- a test that does not gets a memory cache of its own (it could not share one anyway).
With Redis nothing changes.
"""

from __future__ import annotations

import pytest

DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}
MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True)
def cache_the_test_can_reach(request):
    from django.conf import settings
    from django.test.utils import override_settings

    if not settings.CACHES["default"]["BACKEND"].endswith(".DatabaseCache"):
        yield
    elif request.node.get_closest_marker("django_db") or (
        DATABASE_FIXTURES & set(request.fixturenames)
    ):
        # `db` sets the database up as the test asked (transactional or not, from its
        # fixtures and marker); asking for it here only does that earlier.
        request.getfixturevalue("db")
        yield
    else:
        with override_settings(CACHES=MEMORY):
            yield
