"""Operator command for the K5 projects the portal works in, and who may use them."""

from __future__ import annotations

import getpass
import os
from collections import Counter

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from imaging.engine.connections import endpoints_of
from imaging.engine.errors import CredentialsInvalid, K5NotAvailable
from imaging.engine.inventory import refresh_inventory
from imaging.models import BlockStorageVersion, K5Project, Membership, MembershipSource, Role


class Command(BaseCommand):
    help = (
        "Manage K5 projects: add, list, check, set-password, remove, grant, revoke. "
        "Passwords come from the K5_PASSWORD environment variable or a prompt, never an argument."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        add = actions.add_parser("add", help="register a K5 project and its service user")
        add.add_argument("name")
        add.add_argument("--region", required=True, help="e.g. jp-east-1")
        add.add_argument(
            "--identity-url",
            required=True,
            help="Keystone v3 URL, e.g. https://identity.jp-east-1.cloud.global.fujitsu.com/v3",
        )
        add.add_argument("--contract", required=True, help="the K5 contract number (domain name)")
        add.add_argument("--project-id", required=True, help="the K5 project id")
        add.add_argument("--username", required=True, help="the K5 user the portal acts as")
        add.add_argument(
            "--block-storage", choices=BlockStorageVersion.values, default=BlockStorageVersion.V2
        )
        add.add_argument(
            "--upload-limit",
            type=int,
            default=4,
            help="uploads allowed per window (K5: 4 per hour)",
        )
        add.add_argument("--upload-window", type=int, default=3600, help="seconds")

        actions.add_parser("list", help="one line per project")
        check = actions.add_parser(
            "check", help="sign in, list volumes, print a summary and the endpoints found"
        )
        check.add_argument("name")
        check.add_argument(
            "--force",
            action="store_true",
            help="send a password K5 has already rejected once more (one more failed attempt "
            "towards K5's lockout of the user if it is still wrong)",
        )
        for name, text in (
            ("set-password", "replace the stored K5 password"),
            ("remove", "delete the project from the portal (K5 is untouched)"),
        ):
            actions.add_parser(name, help=text).add_argument("name")

        grant = actions.add_parser("grant", help="give a portal user a role in a project")
        grant.add_argument("name")
        grant.add_argument("username")
        grant.add_argument("--role", choices=Role.values, required=True)
        revoke = actions.add_parser("revoke", help="take a portal user's access away")
        revoke.add_argument("name")
        revoke.add_argument("username")

    def handle(self, *args, action, **options):
        getattr(self, "handle_" + action.replace("-", "_"))(**options)

    # --- actions ------------------------------------------------------------------------------
    def handle_add(
        self,
        *,
        name,
        region,
        identity_url,
        contract,
        project_id,
        username,
        block_storage,
        upload_limit,
        upload_window,
        **_,
    ):
        if K5Project.objects.filter(name=name).exists():
            raise CommandError(f"a project named {name!r} exists already")
        project = K5Project(
            name=name,
            region=region,
            identity_url=identity_url,
            contract=contract,
            k5_project_id=project_id,
            username=username,
            block_storage_version=block_storage,
            upload_limit=upload_limit,
            upload_window_seconds=upload_window,
        )
        project.set_password(self.read_password())
        self.save_validated(project)
        self.stdout.write(f"added {project}")

    def handle_list(self, **_):
        for project in K5Project.objects.all():
            self.stdout.write(
                f"{project.name}\t{project.region}\t{project.contract}\t{project.k5_project_id}"
                f"\t{project.username}\t{project.block_storage_version}"
                f"\t{project.upload_limit}/{project.upload_window_seconds}s"
            )

    def handle_check(self, *, name, force, **_):
        project = self.get_project(name)
        if force and not project.credentials_valid:
            self.stderr.write(
                f"--force: sending the password K5 rejected once more. If it is still wrong, "
                f"that is one more failed attempt: K5 locks {project.username} (and every "
                "project sharing that user) after 5 in 15 minutes."
            )
        try:
            # The engine's own way in: one sign-in at a time per project, and a password K5
            # rejected is not sent again unless the operator says --force.
            inventory = refresh_inventory(project, despite_rejection=force)
            endpoints = endpoints_of(project)
        except CredentialsInvalid as exc:
            raise CommandError(
                f"{name}: {exc.message} Fix it with: manage.py k5project set-password {name} "
                "(or, if the password was fixed in K5 itself, check again with --force)."
            ) from None
        except K5NotAvailable as exc:
            raise CommandError(f"{name}: {exc.message}") from None
        volumes = [row.volume for row in inventory.rows]
        statuses = Counter(volume.status for volume in volumes)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        self.stdout.write(
            f"{name}: OK - signed in as {project.username} to project {project.k5_project_id} "
            f"in {project.region}; {len(volumes)} volume(s)" + (f" ({summary})" if summary else "")
        )
        missing = []
        for service, found in endpoints.items():
            if isinstance(found, str):
                missing.append(service)
                self.stdout.write(f"  {service}: NOT FOUND - {found}")
            else:
                self.stdout.write(f"  {service}: {found.url} (by {found.found_by})")
        if missing:
            raise CommandError(f"{name}: no endpoint for {', '.join(missing)} (see above)")

    def handle_set_password(self, *, name, **_):
        project = self.get_project(name)
        project.set_password(self.read_password())
        project.save()
        self.stdout.write(f"password of {project.name} updated")

    def handle_remove(self, *, name, **_):
        project = self.get_project(name)
        if project.jobs.exists():
            raise CommandError(
                f"{name} has {project.jobs.count()} image job(s) in its audit history, which is "
                "kept: it cannot be removed. Revoke its members instead."
            )
        project.delete()
        self.stdout.write(f"removed {name} from the portal; nothing in K5 was changed")

    def handle_grant(self, *, name, username, role, **_):
        project, user = self.get_project(name), self.get_user(username)
        # An operator's grant: it stands until revoked, and a sign-in never changes it (it
        # takes over a membership the user had from K5 or the single sign-on).
        Membership.objects.update_or_create(
            user=user,
            project=project,
            defaults={"role": role, "source": MembershipSource.OPERATOR, "synced_at": None},
        )
        self.stdout.write(f"{username} is now {role} of {name}")

    def handle_revoke(self, *, name, username, **_):
        project, user = self.get_project(name), self.get_user(username)
        deleted, _ = Membership.objects.filter(user=user, project=project).delete()
        if not deleted:
            raise CommandError(f"{username} has no role in {name}")
        self.stdout.write(f"{username} no longer has access to {name}")

    # --- helpers ------------------------------------------------------------------------------
    def read_password(self) -> str:
        password = os.environ.get("K5_PASSWORD")
        if password is None:
            password = getpass.getpass("K5 password: ")
        if not password:
            raise CommandError("the K5 password is empty: set K5_PASSWORD or type it at the prompt")
        return password

    def get_project(self, name: str) -> K5Project:
        try:
            return K5Project.objects.get(name=name)
        except K5Project.DoesNotExist:
            raise CommandError(
                f"no project named {name!r} (see: manage.py k5project list)"
            ) from None

    def get_user(self, username: str):
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no portal user named {username!r}") from None

    @transaction.atomic
    def save_validated(self, project: K5Project) -> None:
        try:
            project.full_clean()
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
            )
            raise CommandError(problems) from None
        project.save()
