"""A killed ticker is replaced within seconds: its lease is short and renewed while it ticks,
every worker process's watchdog queues a new ticker once it has run out, and the new ticker
frees the projects the dead one was polling."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker

from imaging.engine import tick, watchdog
from imaging.engine.tick import TICKER, TickerLease
from imaging.models import EngineLease


@pytest.fixture
def broker():
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


def held(name: str = TICKER) -> EngineLease:
    return EngineLease.objects.get(name=name)


@pytest.mark.django_db
def test_it_renews_its_short_lease_while_it_ticks():
    lease = TickerLease(seconds=0.6)
    assert lease.take()
    first = held().expires_at
    assert first <= timezone.now() + timedelta(seconds=0.6)
    time.sleep(0.25)  # past a third of the lease
    assert lease.keep()
    assert held().expires_at > first
    assert held().holder == tick.HOLDER


@pytest.mark.django_db
def test_once_another_ticker_took_the_lease_over_it_stops_keeping_it():
    lease = TickerLease(seconds=0.3)
    assert lease.take()
    time.sleep(0.35)  # it ran out (this ticker stalled)
    assert EngineLease.acquire(TICKER, "another-host", 60)
    assert not lease.keep()
    assert held().holder == "another-host"


@pytest.mark.django_db(transaction=True)
def test_a_running_ticker_whose_lease_was_taken_over_ends(settings):
    settings.ENGINE_TICKER_LEASE_SECONDS = 0.3
    ticks = []
    runner = threading.Thread(target=lambda: ticks.append(tick.run_ticker(60, 0.05)))
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while not EngineLease.objects.filter(name=TICKER, holder=tick.HOLDER).exists():
            assert time.monotonic() < deadline, "the ticker never took its lease"
            time.sleep(0.05)
        EngineLease.objects.filter(name=TICKER).update(
            holder="another-host", expires_at=timezone.now() + timedelta(seconds=60)
        )
        runner.join(timeout=30)
        assert not runner.is_alive(), "the ticker went on without its lease"
    finally:
        runner.join(timeout=60)
    assert ticks and ticks[0] >= 1
    assert held().holder == "another-host", "and it left the other ticker's lease alone"


@pytest.mark.django_db
def test_taking_over_from_a_dead_ticker_frees_the_projects_it_was_polling():
    past = timezone.now() - timedelta(seconds=1)
    later = timezone.now() + timedelta(seconds=120)
    EngineLease.objects.create(name=TICKER, holder="dead-host:42:abcd", expires_at=past)
    EngineLease.objects.create(name="project:1", holder="dead-host:42:abcd", expires_at=later)
    EngineLease.objects.create(name="project:2", holder="another-host:7:ef01", expires_at=later)

    assert TickerLease().take()

    assert held("project:1").expires_at <= timezone.now(), "free for this ticker at once"
    assert held("project:2").expires_at == later, "another host's project is its own"


@pytest.mark.django_db
def test_a_ticker_does_not_take_a_lease_that_is_still_held():
    EngineLease.objects.create(
        name=TICKER, holder="live-host:1:0000", expires_at=timezone.now() + timedelta(seconds=9)
    )
    assert not TickerLease().take()


@pytest.mark.django_db
def test_the_watchdog_queues_a_ticker_when_none_holds_the_lease(
    broker, settings, django_capture_on_commit_callbacks
):
    settings.ENGINE_WATCHDOG_SECONDS = 5
    with django_capture_on_commit_callbacks(execute=True):
        assert watchdog.restart_ticker_if_stopped(), "no ticker has ever run"
    assert broker.queue_size() == 1
    task = broker.dequeue()[0]
    assert task  # the queued ticker itself is django-q2's business
    assert not watchdog.restart_ticker_if_stopped(), "one process queues one, not every look"


@pytest.mark.django_db
def test_the_watchdog_leaves_a_live_or_just_handed_over_ticker_alone(
    broker, settings, django_capture_on_commit_callbacks
):
    settings.ENGINE_WATCHDOG_SECONDS = 5
    now = timezone.now()
    EngineLease.objects.create(name=TICKER, holder="x", expires_at=now + timedelta(seconds=5))
    assert not watchdog.restart_ticker_if_stopped(now)
    # Released a moment ago by a ticker that queued its successor: left to the successor.
    assert not watchdog.restart_ticker_if_stopped(now + timedelta(seconds=8))
    assert broker.queue_size() == 0
    # Ran out longer ago than one look: the ticker died (or its successor was lost).
    with django_capture_on_commit_callbacks(execute=True):
        assert watchdog.restart_ticker_if_stopped(now + timedelta(seconds=11))
    assert broker.queue_size() == 1


def test_every_worker_process_starts_the_watchdog_when_django_q_spawns_it(settings):
    from django_q.signals import post_spawn

    from imaging.apps import start_ticker_watchdog

    receivers = [r[1]() for r in post_spawn.receivers]
    assert start_ticker_watchdog in receivers
    settings.ENGINE_WATCHDOG_SECONDS = 0
    assert watchdog.start(proc_name="Process-1") is None, "0 turns it off"
