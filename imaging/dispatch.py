"""Hands work to django-q2 workers — by dotted name, once the surrounding transaction commits.

The engine and the models never import `imaging.tasks`: they name the task here, and django-q2
imports it in the worker (`async_task` takes a dotted path). That keeps the layers one-way —
tasks → engine → models — and a worker never looks for a row it cannot see yet.
"""

from __future__ import annotations

from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.tasks import async_task

START_UPLOADS = "imaging.tasks.start_uploads"
SEND_UPLOAD = "imaging.tasks.send_upload"
RUN_TICKER = "imaging.tasks.run_ticker"
NOTIFY_JOB_FINISHED = "imaging.tasks.notify_job_finished"
REFRESH_INVENTORY = "imaging.tasks.refresh_inventory"


def enqueue(task: str, *args) -> None:
    """Queue `task` (a dotted name) with `args` after the current transaction commits (at once
    outside one). The group is the task's own name, so the admin lists results by kind."""
    group = task.rpartition(".")[2]
    transaction.on_commit(
        lambda: async_task(task, *args, q_options={"group": group, "broker": _broker()})
    )


_brokers: dict[str, Broker] = {}


def _broker() -> Broker:
    """The process's broker for the configured queue. Left to itself, django-q2 builds one per
    task — with Redis a new connection pool, so a new connection and its handshake for every
    submission. A Redis client is safe to share between threads, and after a fork it opens
    connections of its own; the ORM broker keeps no connection."""
    name = Conf.CLUSTER_NAME
    if name not in _brokers:
        _brokers[name] = get_broker(name)
    return _brokers[name]


def notify_when_finished(sender, job, **kwargs) -> None:
    """Receiver of `imaging.signals.job_finished`: the e-mail and webhook go out from a worker."""
    enqueue(NOTIFY_JOB_FINISHED, job.pk)
