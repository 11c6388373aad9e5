import pytest

from tests.k5sim.client import login


@pytest.fixture
def api(k5sim):
    """demo-user scoped to demo-project-1 on a freshly reset simulator."""
    return login(k5sim)


@pytest.fixture
def api2(k5sim):
    """demo-user scoped to demo-project-2."""
    return login(k5sim, "demo-project-2")
