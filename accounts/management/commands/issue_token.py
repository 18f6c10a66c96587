from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import issue_token
from audit.context import acting_as


class Command(BaseCommand):
    help = "Print a new API token for USERNAME on stdout (and nothing else)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--expires-days", type=int, default=90, help="0 for no expiry")
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, username, expires_days, read_only, name, **options):
        if expires_days < 0:
            raise CommandError("--expires-days must be 0 (no expiry) or more")
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user named {username!r}")
        with acting_as(name="manage.py issue_token"):
            _, plaintext = issue_token(
                user, name=name, expires_days=expires_days or None, read_only=read_only
            )
        self.stdout.write(plaintext)
