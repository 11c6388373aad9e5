from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def create_cache_table(sender, using, verbosity=1, **kwargs) -> None:
    """Without Redis the cache lives in the database (settings.CACHES): every `migrate`, and so
    every test database, bin/run and deployment, creates its table if it is missing. Nothing
    happens when the cache is Redis."""
    call_command("createcachetable", database=using, verbosity=1 if verbosity >= 2 else 0)


class PortalConfig(AppConfig):
    """The deployment around the imaging app: settings, URLs, sign-in protection, and what
    migrate sets up for them."""

    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        # Here, not at the top: it imports axes' models, which need the app registry ready.
        from portal import signin

        post_migrate.connect(create_cache_table, sender=self)
        signin.connect_logging()
