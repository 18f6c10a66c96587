from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from audit import keys
from audit.signing import required_signing_key
from govreg_verify.checkpoint import key_id, public_key_pem


class Command(BaseCommand):
    help = (
        "Print the PEM public keys that verify this deployment's checkpoints and bundles: the "
        "current key first, then every retired one (also at GET /api/audit/keys), for "
        "auditors, `verify_audit --public-key` and `govreg verify --public-key`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--current", action="store_true", help="only the current key, without retired ones"
        )

    def handle(self, *args, **options):
        try:
            current = required_signing_key().public_key()
            rows = keys.known_keys()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(public_key_pem(current).decode(), ending="")
        if options["current"]:
            return
        current_ids = {key_id(row.origin, current).hex() for row in rows}
        for row in rows:
            if row.key_id not in current_ids:
                self.stdout.write(row.public_key, ending="")
