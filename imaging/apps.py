from django.apps import AppConfig
from django.db.models.signals import post_migrate

TICKER_SCHEDULE = "imaging engine ticker"


def ensure_engine_schedule(sender, **kwargs) -> None:
    """The engine ticker is scheduled by the app itself: every `migrate` makes sure it exists.

    The ticking itself is a chain of `run_ticker` tasks, each enqueueing its successor (see
    imaging.tasks.run_ticker); this once-a-minute schedule is only the watchdog that restarts
    a chain a killed worker broke.
    """
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=TICKER_SCHEDULE,
        defaults={
            "func": "imaging.tasks.run_ticker",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def start_ticker_watchdog(**kwargs) -> None:
    """Receiver of django-q2's `post_spawn`: every worker process watches that a ticker runs."""
    # Imported when a worker starts, not when the apps load: the engine brings in the metrics
    # registry, which a web process must not create before its server has set it up.
    from imaging.engine import watchdog

    watchdog.start(**kwargs)


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "K5 imaging"

    def ready(self) -> None:
        # Imported here, not at the top: django_q's task module needs the app registry ready.
        from django_q.signals import post_spawn

        # Likewise (both import the models and django_q's task module).
        from imaging import dispatch, signals

        post_migrate.connect(ensure_engine_schedule, sender=self)
        signals.job_finished.connect(dispatch.notify_when_finished, dispatch_uid="notify")
        signals.job_finished.connect(dispatch.prune_after_success, dispatch_uid="retention")
        # Every worker process django-q2 spawns watches that a ticker runs.
        post_spawn.connect(start_ticker_watchdog, dispatch_uid="ticker-watchdog")
