"""django-q2 tasks: thin — load by primary key, run one engine step, return.

Tasks are only ever enqueued after the surrounding transaction commits, so a worker never
looks for a row it cannot see yet. No task waits on K5: progress lives in the models and the
engine tick moves it on.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django_q.tasks import async_task

from imaging.engine import notifications, tick, upload
from imaging.models import K5Project


def enqueue(task: Callable, *args) -> None:
    name = f"{task.__module__}.{task.__name__}"
    transaction.on_commit(lambda: async_task(name, *args, q_options={"group": task.__name__}))


def start_uploads(project_id: int) -> list[int]:
    project = K5Project.objects.filter(pk=project_id).first()
    return tick.start_uploads(project) if project else []


def send_upload(job_id: int) -> str:
    return upload.send_upload(job_id)


def run_ticker() -> int:
    return tick.run_ticker()


def notify_job_finished(job_id: int) -> list[str]:
    return notifications.notify_job_finished(job_id)
