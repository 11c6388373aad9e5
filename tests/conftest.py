import pytest
from django.core.cache import cache

from tests.support.simulator import start_simulator

pytest_plugins = ["tests.support.inventory_worker"]


@pytest.fixture(scope="session")
def k5sim_process():
    simulator = start_simulator()
    yield simulator
    simulator.stop()


@pytest.fixture
def k5sim(k5sim_process):
    """The shared simulator, reset to the demo scenario (speed 1, no faults) for this test."""
    k5sim_process.reset()
    return k5sim_process


@pytest.fixture(autouse=True)
def empty_cache():
    """Cached K5 lists and throttle counters must not leak from one test into the next."""
    cache.clear()
    yield
