"""Seed the laptop demo: portal users and the simulator's demo projects (idempotent)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from imaging.k5 import K5Client, K5Config, K5Error
from imaging.models import K5Project, Membership, Role

# The simulator's built-in demo scenario (k5sim/README.md): fixed so docs and tests rely on it.
DEMO_REGION = "jp-east-1"
DEMO_CONTRACT = "demo"
DEMO_K5_USER = "demo-user"
DEMO_K5_PASSWORD = "demo-password"  # noqa: S105 - the simulator's published demo credential
# portal project name -> the portal demo user's role in it
DEMO_PROJECTS = {"demo-project-1": Role.MEMBER, "demo-project-2": Role.ADMIN}
PORTAL_USERS = (("demo", "demo-password", False), ("admin", "admin-password", True))


class Command(BaseCommand):
    help = (
        "Create the demo portal users (demo, admin) and the K5 projects demo-project-1 and "
        "demo-project-2 bound to a K5 simulator. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--auth-url",
            default=settings.K5_DEMO_AUTH_URL,
            help="the simulator's identity URL (default: K5_DEMO_AUTH_URL)",
        )

    def handle(self, *args, auth_url, **options):
        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo creates users with published passwords: not in production"
            )
        project_ids = {name: self.k5_project_id(auth_url, name) for name in DEMO_PROJECTS}
        with transaction.atomic():
            users = {
                username: self.portal_user(username, password, staff)
                for username, password, staff in PORTAL_USERS
            }
            for name, role in DEMO_PROJECTS.items():
                project, _ = K5Project.objects.update_or_create(
                    name=name,
                    defaults={
                        "region": DEMO_REGION,
                        "identity_url": auth_url,
                        "contract": DEMO_CONTRACT,
                        "k5_project_id": project_ids[name],
                        "username": DEMO_K5_USER,
                    },
                )
                project.set_password(DEMO_K5_PASSWORD)
                project.save()
                Membership.objects.update_or_create(
                    user=users["demo"], project=project, defaults={"role": role}
                )
        for name, project_id in project_ids.items():
            self.stdout.write(f"project {name} -> K5 project {project_id} at {auth_url}")

    def k5_project_id(self, auth_url: str, project_name: str) -> str:
        """Ask Keystone for the id of the demo project, rather than trusting a copied constant."""
        config = K5Config(
            auth_url=auth_url,
            region=DEMO_REGION,
            contract=DEMO_CONTRACT,
            username=DEMO_K5_USER,
            password=DEMO_K5_PASSWORD,
            project_name=project_name,
        )
        try:
            with K5Client(config) as client:
                return client.project_id
        except K5Error as exc:
            raise CommandError(
                f"cannot reach the demo K5 project {project_name} at {auth_url}: {exc}"
            ) from None

    def portal_user(self, username: str, password: str, staff: bool):
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = user.is_superuser = staff
        user.save()
        return user
