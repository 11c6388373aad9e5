"""A time budget over several K5 calls: what a web request may wait, and not a second more."""

from __future__ import annotations

import time

import pytest

from imaging.k5 import K5TooSlow, K5Unavailable, blockstorage
from imaging.k5.deadline import within
from tests.support.demo import CENTOS_WEB, volume_path

PATTERN = f"/volumes/{CENTOS_WEB}$"


def test_a_slow_answer_is_given_up_when_the_budget_ends_not_at_the_read_timeout(k5sim, client):
    blockstorage.volume_get(client, CENTOS_WEB)  # signed in: the budget is the GET's alone
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, latency=5)
    started = time.monotonic()

    with pytest.raises(K5TooSlow) as raised, within(1):
        blockstorage.volume_get(client, CENTOS_WEB)

    assert time.monotonic() - started < 3
    assert "within the 1 s" in raised.value.message
    assert isinstance(raised.value, K5Unavailable)  # callers that know only K5Unavailable cope


def test_no_retry_starts_once_the_budget_is_spent(k5sim, client):
    blockstorage.volume_get(client, CENTOS_WEB)
    k5sim.clear_requests()
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, status=503, latency=0.6, times=5)

    with pytest.raises(K5Unavailable), within(1):
        blockstorage.volume_get(client, CENTOS_WEB)

    # Without a budget the GET is tried 3 times; within 1 s there is room for 2 at most.
    assert len(k5sim.logged("GET", volume_path(CENTOS_WEB))) <= 2


def test_a_call_begun_with_nothing_left_is_not_sent(k5sim, client):
    blockstorage.volume_get(client, CENTOS_WEB)
    k5sim.clear_requests()

    with pytest.raises(K5TooSlow), within(0):
        blockstorage.volume_get(client, CENTOS_WEB)

    assert k5sim.logged("GET", volume_path(CENTOS_WEB)) == []


def test_without_a_budget_calls_keep_their_own_timeouts(k5sim, client):
    k5sim.add_fault(kind="http", method="GET", path=PATTERN, latency=1.2)

    assert blockstorage.volume_get(client, CENTOS_WEB).id == CENTOS_WEB
