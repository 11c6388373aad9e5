from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from imaging.models import ApiToken


class Command(BaseCommand):
    help = (
        "API tokens: `create USERNAME [--name N] [--expires DAYS]` prints the key once; "
        "`list [USERNAME]`; `disable PREFIX` (`disable -- PREFIX` for a prefix starting with '-', "
        "which tokens issued before 2026-12 may have)."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="issue a token and print its key once")
        create.add_argument("username")
        create.add_argument("--name", default="created with manage.py apitoken")
        create.add_argument(
            "--expires",
            type=int,
            metavar="DAYS",
            help="days until the token stops working (default: never)",
        )
        listing = actions.add_parser("list", help="tokens, without their keys")
        listing.add_argument("username", nargs="?")
        disable = actions.add_parser("disable", help="stop a token from working")
        disable.add_argument("prefix", help="the first 8 characters of the key")

    def handle(self, *args, action, **options):
        if action == "create":
            days = options["expires"]
            if days is not None and days < 1:
                raise CommandError("--expires must be at least 1 day")
            try:
                user = get_user_model().objects.get_by_natural_key(options["username"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"no portal user named {options['username']!r}") from None
            token, key = ApiToken.issue(user, options["name"], days=days)
            self.stderr.write(
                f"token {token.prefix}… for {user.get_username()}"
                + (
                    f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC"
                    if token.expires_at
                    else ", no expiry"
                )
                + ". The key is shown only now:"
            )
            self.stdout.write(key)
        elif action == "list":
            tokens = ApiToken.objects.select_related("user")
            if options["username"]:
                tokens = tokens.filter(user__username=options["username"])
            for token in tokens:
                state = "enabled" if token.usable else ("expired" if token.expired else "disabled")
                self.stdout.write(
                    f"{token.prefix}\t{token.user}\t{token.name}\t{state}\t"
                    f"last used {token.last_used or 'never'}"
                )
        else:
            if not ApiToken.objects.filter(prefix=options["prefix"]).update(enabled=False):
                raise CommandError(f"no token starts with {options['prefix']!r}")
            self.stdout.write(f"token {options['prefix']}… disabled")
