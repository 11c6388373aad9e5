"""Handing work to the workers: every task queued by a process goes through one broker, so a
burst of submissions does not open a Redis connection each (django-q2 alone builds a new
broker, and so a new connection pool, for every task)."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django_q.brokers import get_broker

from imaging import dispatch


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis broker is configured by REDIS_URL")
def test_a_burst_of_tasks_opens_no_redis_connection_per_task(transactional_db, queue_name):
    server = redis.from_url(settings.REDIS_URL)
    dispatch.enqueue(dispatch.START_UPLOADS, 0)  # the process's broker, connected once
    before = server.info("stats")["total_connections_received"]
    try:
        for n in range(30):
            dispatch.enqueue(dispatch.START_UPLOADS, n)
        after = server.info("stats")["total_connections_received"]
        assert get_broker().queue_size() == 31
    finally:
        get_broker().purge_queue()
    # Another process may connect meanwhile; one connection per task would be 30.
    assert after - before < 5


def test_tasks_go_to_the_queue_the_process_is_configured_for(transactional_db, queue_name):
    try:
        dispatch.enqueue(dispatch.START_UPLOADS, 1)
        dispatch.enqueue(dispatch.NOTIFY_JOB_FINISHED, 2)
        assert get_broker().queue_size() == 2
    finally:
        get_broker().purge_queue()
