from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from audit.signing import required_signing_key
from govreg_verify.checkpoint import public_key_pem


class Command(BaseCommand):
    help = (
        "Print the PEM public key that verifies this deployment's audit checkpoints, for "
        "auditors and `verify_audit --public-key`."
    )

    def handle(self, *args, **options):
        try:
            key = required_signing_key()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(public_key_pem(key.public_key()).decode(), ending="")
