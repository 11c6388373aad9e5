"""The one place the test cast is registered: every test can ask for the simulator
(`k5sim`), the projects and named users (`project`, `alice`, `bob`, ...) and the end-to-end
workers by name, and no module imports fixtures from a conftest. An area that needs a variant
overrides one fixture in its own conftest."""

import pytest
from django.core.cache import cache

pytest_plugins = [
    "tests.support.simulator",
    "tests.support.cast",
    "tests.support.workers",
]


@pytest.fixture(autouse=True)
def empty_cache():
    """Cached K5 lists and throttle counters must not leak from one test into the next."""
    cache.clear()
    yield
