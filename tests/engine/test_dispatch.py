"""Handing work to the workers: every task queued by a process goes through one broker, so a
burst of submissions does not open a Redis connection each (django-q2 alone builds a new
broker, and so a new connection pool, for every task)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from imaging import dispatch
from imaging.models import PendingTask


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


# --- tasks the broker did not take after their commit ------------------------------------------


def queued_names(broker) -> list[tuple[str, list]]:
    names = []
    while broker.queue_size():
        for _ack, package in broker.dequeue() or []:
            task = SignedPackage.loads(package)
            names.append((task["func"], list(task["args"])))
    return names


def test_a_task_the_broker_refused_is_kept_and_sent_once_by_the_tick_when_it_is_back(
    transactional_db, redis_everywhere
):
    redis_everywhere.stop()
    dispatch.enqueue(dispatch.NOTIFY_JOB_FINISHED, 7)
    dispatch.enqueue(dispatch.NOTIFY_JOB_FINISHED, 7)  # the same task, asked twice
    dispatch.enqueue(dispatch.START_UPLOADS, 1)
    later = timezone.now() + timedelta(minutes=2)

    assert dispatch.send_pending(now=later) == 0  # still down: nothing is dropped
    assert PendingTask.objects.count() == 3

    redis_everywhere.start()
    assert dispatch.send_pending() == 0  # a minute's grace for the process that committed
    assert dispatch.send_pending(now=later) == 2

    assert PendingTask.objects.count() == 0
    assert queued_names(dispatch._broker()) == [
        (dispatch.NOTIFY_JOB_FINISHED, [7]),
        (dispatch.START_UPLOADS, [1]),
    ]


def test_a_task_the_broker_took_leaves_no_record(queue):
    dispatch.enqueue(dispatch.START_UPLOADS, 1)

    assert queue.queue_size() == 1
    assert PendingTask.objects.count() == 0
