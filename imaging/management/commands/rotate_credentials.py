from django.core.management.base import BaseCommand
from django.db import transaction

from imaging import credentials
from imaging.models import K5Project


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored K5 password, webhook URL and webhook secret with the first key of "
        "K5_CREDENTIAL_KEYS. "
        "Run after putting a new key in front; then the old key can be removed."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            projects = list(K5Project.objects.select_for_update())
            for project in projects:
                project.password_encrypted = credentials.rotate(project.password_encrypted)
                # The webhook secret is encrypted with the same keys: left behind, it would
                # become unreadable (and webhooks unsigned) once the old key is dropped.
                if project.webhook_secret_encrypted:
                    project.webhook_secret_encrypted = credentials.rotate(
                        project.webhook_secret_encrypted
                    )
                if project.webhook_url_encrypted:
                    project.webhook_url_encrypted = credentials.rotate(
                        project.webhook_url_encrypted
                    )
                project.save(
                    update_fields=[
                        "password_encrypted",
                        "webhook_secret_encrypted",
                        "webhook_url_encrypted",
                    ]
                )
        self.stdout.write(f"re-encrypted the credentials of {len(projects)} project(s)")
