"""Facade tests against the live simulator (`k5sim`, tests/support/simulator.py), over real HTTP."""

from __future__ import annotations

import pytest

from imaging.k5 import K5Client, K5Config
from tests.support.demo import DEMO_CONTRACT, DEMO_PASSWORD, DEMO_REGION, DEMO_USER, PROJECT_1


@pytest.fixture
def make_client(k5sim):
    """Build clients for the demo user and project 1; keyword arguments override settings."""
    clients = []

    def make(observer=None, **overrides) -> K5Client:
        settings = {
            "auth_url": k5sim.auth_url,
            "region": DEMO_REGION,
            "contract": DEMO_CONTRACT,
            "username": DEMO_USER,
            "password": DEMO_PASSWORD,
            "project_id": PROJECT_1,
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
            # Real backoff shape, test-sized delays.
            "retry_backoff": 0.01,
            "retry_backoff_max": 0.05,
        }
        settings.update(overrides)
        client = K5Client(K5Config(**settings), observer=observer)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def records() -> list:
    return []


@pytest.fixture
def client(make_client, records) -> K5Client:
    return make_client(observer=records.append)
