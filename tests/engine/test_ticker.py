"""The ticker keeps ticking: each run hands over to a successor; a second one steps aside."""

import pytest
from django_q.brokers import get_broker

from imaging import tasks
from imaging.engine import tick
from imaging.models import EngineLease


@pytest.fixture
def broker():
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


@pytest.mark.django_db(transaction=True)
def test_a_ticker_run_enqueues_its_successor(settings, broker):
    settings.ENGINE_TICKER_SECONDS = 0.2
    settings.ENGINE_TICK_SECONDS = 0.1
    assert tasks.run_ticker() >= 1
    assert broker.queue_size() == 1
    assert EngineLease.acquire("ticker", "someone-else", 10), "the lease was released"


@pytest.mark.django_db
def test_a_ticker_that_finds_the_lease_held_steps_aside_without_successor(settings, broker):
    settings.ENGINE_TICKER_SECONDS = 0.2
    assert EngineLease.acquire("ticker", "another-host", 60)
    assert tasks.run_ticker() == 0
    assert broker.queue_size() == 0


@pytest.mark.django_db
def test_the_migration_schedules_the_ticker():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="imaging engine ticker")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "imaging.tasks.run_ticker",
        Schedule.MINUTES,
        -1,
    )
    assert tick.HOLDER
