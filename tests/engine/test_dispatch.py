"""Handing work to the workers: every task queued by a process goes through one broker, so a
burst of submissions does not open a Redis connection each (django-q2 alone builds a new
broker, and so a new connection pool, for every task)."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django_q.brokers import get_broker

from imaging import dispatch


@pytest.fixture
def queue(transactional_db, queue_name):
    """The run's queue, without what earlier tests left in it (a Redis queue outlives each
    test's database); emptied again afterwards."""
    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis broker is configured by REDIS_URL")
def test_a_burst_of_tasks_opens_no_redis_connection_per_task(queue):
    server = redis.from_url(settings.REDIS_URL)
    dispatch.enqueue(dispatch.START_UPLOADS, 0)  # the process's broker, connected once
    before = server.info("stats")["total_connections_received"]
    for n in range(30):
        dispatch.enqueue(dispatch.START_UPLOADS, n)
    after = server.info("stats")["total_connections_received"]

    assert queue.queue_size() == 31
    # Another process may connect meanwhile; one connection per task would be 30.
    assert after - before < 5


def test_tasks_go_to_the_queue_the_process_is_configured_for(queue):
    dispatch.enqueue(dispatch.START_UPLOADS, 1)
    dispatch.enqueue(dispatch.NOTIFY_JOB_FINISHED, 2)
    assert queue.queue_size() == 2
