"""The engine ticker needs no admin step: `migrate` schedules it and a cluster runs it."""

import pytest
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.scheduler import scheduler

from imaging.apps import TICKER_SCHEDULE
from tests.support.workers import wait_for


@pytest.mark.django_db(transaction=True)
def test_it_schedules_the_ticker_on_migrate_and_a_real_cluster_runs_it(workers):
    schedule = Schedule.objects.get(name=TICKER_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "imaging.tasks.run_ticker",
        Schedule.MINUTES,
        1,
        -1,
    )

    workers.start()
    # What every cluster's guard loop does about every 30 s, done now rather than waited for.
    scheduler()
    ticker = wait_for(
        lambda: Task.objects.filter(func="imaging.tasks.run_ticker", group=TICKER_SCHEDULE).first(),
        timeout=30,
        what="the scheduled ticker task to finish",
    )

    assert ticker.success, ticker.result
    assert ticker.result >= 3, "it ticked every ENGINE_TICK_SECONDS for ENGINE_TICKER_SECONDS"
    schedule.refresh_from_db()
    assert schedule.next_run > timezone.now(), "and the schedule moved on to its next run"
