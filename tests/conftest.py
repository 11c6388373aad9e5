"""The one place the test cast is registered and the slow tests are marked.

Every test can ask for the simulator (`k5sim`), the projects and named users (`project`,
`alice`, `bob`, ...) and the end-to-end workers by name; no module imports fixtures from a
conftest. An area that needs a variant overrides one fixture in its own conftest.
"""

from pathlib import Path

import pytest
from django.core.cache import cache

pytest_plugins = [
    "tests.support.simulator",
    "tests.support.cast",
    "tests.support.workers",
    "tests.support.inventory_worker",
    "tests.support.cache_without_db",
    "tests.support.redis_server",
    "tests.support.logs",
    "tests.support.web_server",
    "tests.support.browser",
]

TESTS = Path(__file__).resolve().parent

# What `bin/test --fast` leaves out, marked here and nowhere else. By path, since what makes
# these tests slow is what their module starts; the shared session simulator does not count.
MARKS = {
    "e2e/": ["e2e"],  # real qcluster processes, or a live server with the engine in a thread
    "e2e/test_browser.py": ["browser"],  # drives Debian's chromium
    "e2e/test_k5_sign_in_browser.py": ["browser"],
    "api/test_schemathesis.py": ["schemathesis"],  # generated requests against every operation
    "k5sim/test_cli.py": ["simulator_process"],  # runs `python -m k5sim` itself
    "engine/test_batched_polling.py": ["simulator_process"],  # its own 20-project simulator
    "engine/test_concurrent_polling.py": ["simulator_process"],  # its own 6-project simulator
    "test_run_command.py": ["simulator_process"],  # bin/run: simulator, qcluster, web server
}


def pytest_collection_modifyitems(items):
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        path = item.path.relative_to(TESTS).as_posix()
        for prefix, marks in MARKS.items():
            if path.startswith(prefix):
                for mark in marks:
                    item.add_marker(mark)


@pytest.fixture(autouse=True)
def empty_cache(cache_the_test_can_reach):
    """Throttle and lockout counters must not leak from one test into the next (the cache is
    a database table without Redis: `cache_the_test_can_reach` makes it reachable first)."""
    cache.clear()
    yield
