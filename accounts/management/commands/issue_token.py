from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import issue_token
from audit.context import acting_as
from config.errors import BadParameter


class Command(BaseCommand):
    help = "Print a new API token for USERNAME on stdout (and nothing else)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="days until expiry (default GOVREG_TOKEN_TTL_DAYS, at most GOVREG_TOKEN_MAX_DAYS)",
        )
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, username, expires_days, read_only, name, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user named {username!r}")
        with acting_as(name="manage.py issue_token"):
            try:
                _, plaintext = issue_token(
                    user, name=name, expires_days=expires_days, read_only=read_only
                )
            except BadParameter as exc:
                raise CommandError(f"--expires-days {exc.message}") from None
        self.stdout.write(plaintext)
