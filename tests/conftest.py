import pytest

from tests.support.simulator import start_simulator


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
