"""django-q2 tasks: thin — load by primary key, run one engine step, return.

Tasks are enqueued by dotted name through `imaging.dispatch`, only after the surrounding
transaction commits, so a worker never looks for a row it cannot see yet. No task waits on
K5: progress lives in the models and the engine tick moves it on.
"""

from __future__ import annotations

from imaging import dispatch
from imaging.engine import inventory, notifications, retention, schedules, tick, upload
from imaging.engine.errors import K5NotAvailable
from imaging.models import K5Project
from portal.logs import log_context


def start_uploads(project_id: int) -> list[int]:
    project = K5Project.objects.filter(pk=project_id).first()
    return tick.start_uploads(project) if project else []


def send_upload(job_id: int) -> str:
    with log_context(job_id=job_id):
        return upload.send_upload(job_id)


def run_ticker() -> int:
    """Tick for a while, then hand over to a successor task.

    django-q2's scheduler only fires about once a minute and up to 30 s late, so a loop that
    merely waited for the next scheduled run would leave gaps. Instead each run that held the
    ticker lease enqueues its successor at once (a chain); the minute schedule is only the
    watchdog that restarts a chain lost with a killed worker. A run that finds the lease held
    returns without a successor, so two chains never live side by side for long.
    """
    ticks = tick.run_ticker()
    if ticks:
        dispatch.enqueue(dispatch.RUN_TICKER)
    return ticks


def refresh_inventory(project_id: int) -> str:
    project = K5Project.objects.filter(pk=project_id).first()
    if project is None:
        return "no such project"
    try:
        listed = inventory.refresh_inventory(project)
    except K5NotAvailable as exc:  # stored beside the last good list, for the pages to show
        return f"not listed: {exc.message}"
    return f"{len(listed.rows)} volume(s)"


def notify_job_finished(job_id: int) -> list[str]:
    with log_context(job_id=job_id):
        return notifications.notify_job_finished(job_id)


def prepare_scheduled_run(batch_id: int) -> str:
    return schedules.prepare_run(batch_id)


def apply_retention(job_id: int) -> str:
    with log_context(job_id=job_id):
        return retention.after_success(job_id)
