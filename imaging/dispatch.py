"""Hands work to django-q2 workers — by dotted name, once the surrounding transaction commits.

The engine and the models never import `imaging.tasks`: they name the task here, and django-q2
imports it in the worker (`async_task` takes a dotted path). That keeps the layers one-way —
tasks → engine → models — and a worker never looks for a row it cannot see yet.

What must follow a commit is written down in the same transaction first (a `PendingTask` row,
an outbox): a submission or a cancel that committed has its task recorded, whether or not the
broker answers. After the commit the task goes to the broker and its row is deleted; when the
broker does not take it (Redis down), the row stays and the engine tick hands it over later
(`send_pending`), and the request that committed still answers normally. A task can therefore
reach a worker twice — the broker took it but its row could not be deleted, or the hand-over
after the commit outlived PENDING_GRACE — but is never lost.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.tasks import async_task

from imaging.models import JobState, PendingTask

logger = logging.getLogger(__name__)

START_UPLOADS = "imaging.tasks.start_uploads"
SEND_UPLOAD = "imaging.tasks.send_upload"
RUN_TICKER = "imaging.tasks.run_ticker"
NOTIFY_JOB_FINISHED = "imaging.tasks.notify_job_finished"
REFRESH_INVENTORY = "imaging.tasks.refresh_inventory"
PREPARE_SCHEDULED_RUN = "imaging.tasks.prepare_scheduled_run"
APPLY_RETENTION = "imaging.tasks.apply_retention"

# A row younger than this may still be on its way to the broker from the process that
# committed it: the tick leaves it alone, so that a task is not sent twice as a rule.
PENDING_GRACE = timedelta(seconds=60)
# Rows handed over per tick, so that a tick after a long outage is not spent on them alone.
PENDING_BATCH = 500


def enqueue(task: str, *args) -> None:
    """Queue `task` (a dotted name) with `args` after the current transaction commits (at once
    outside one). Recorded in the transaction first: if the broker cannot take it then, the
    engine tick sends it later. The group is the task's own name, so the admin lists results
    by kind."""
    pending = PendingTask.objects.create(name=task, args=list(args))
    transaction.on_commit(lambda: _hand_over(pending))


def _hand_over(pending: PendingTask) -> None:
    # Runs after the commit, in the request or task that committed: nothing here may raise,
    # or a change that is saved would be answered as a failure.
    try:
        _send(pending.name, pending.args)
    except Exception as exc:
        logger.warning(
            "task %s%s not queued (%s: %s); the engine tick will queue it",
            pending.name,
            tuple(pending.args),
            type(exc).__name__,
            exc,
        )
        return
    try:
        PendingTask.objects.filter(pk=pending.pk).delete()
    except Exception as exc:
        logger.warning(
            "task %s%s queued, but its record stays (%s: %s); the tick will queue it again",
            pending.name,
            tuple(pending.args),
            type(exc).__name__,
            exc,
        )


def send_pending(now: datetime | None = None) -> int:
    """Hand the broker the tasks it did not take after their commit (the engine tick calls
    this). Rows naming the same task and arguments go as one task. Stops at the first the
    broker refuses: it is still down. Returns how many tasks were queued."""
    cutoff = (now or timezone.now()) - PENDING_GRACE
    alike: dict[str, list[PendingTask]] = {}
    for row in PendingTask.objects.filter(created_at__lte=cutoff).order_by("pk")[:PENDING_BATCH]:
        alike.setdefault(json.dumps([row.name, row.args]), []).append(row)
    queued = 0
    for rows in alike.values():
        try:
            _send(rows[0].name, rows[0].args)
        except Exception as exc:
            logger.warning(
                "tasks recorded after their commit are still not queued (%s: %s)",
                type(exc).__name__,
                exc,
            )
            break
        PendingTask.objects.filter(pk__in=[row.pk for row in rows]).delete()
        queued += 1
    if queued:
        logger.info("queued %d task(s) the broker had not taken after their commit", queued)
    return queued


def _send(task: str, args: list) -> None:
    group = task.rpartition(".")[2]
    async_task(task, *args, q_options={"group": group, "broker": _broker()})


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
    """Receiver of `imaging.signals.job_finished`: the e-mail and webhook go out from a worker.
    Recorded in the transaction that ended the job, so the notice outlives a broker outage."""
    enqueue(NOTIFY_JOB_FINISHED, job.pk)


def prune_after_success(sender, job, **kwargs) -> None:
    """Receiver of `imaging.signals.job_finished`: a batch's job that succeeded may leave a
    schedule with more images of its volume than it keeps (imaging.engine.retention decides,
    in a worker)."""
    if job.state == JobState.SUCCEEDED and job.batch_id is not None:
        enqueue(APPLY_RETENTION, job.pk)
