from django.core.management.base import BaseCommand
from django.db import transaction

from imaging import credentials
from imaging.models import K5Project


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored K5 password with the first key of K5_CREDENTIAL_KEYS. "
        "Run after putting a new key in front; then the old key can be removed."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            projects = list(K5Project.objects.select_for_update())
            for project in projects:
                project.password_encrypted = credentials.rotate(project.password_encrypted)
                project.save(update_fields=["password_encrypted"])
        self.stdout.write(f"re-encrypted the credentials of {len(projects)} project(s)")
