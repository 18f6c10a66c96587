"""The public keys that verify this deployment's checkpoints and bundles, current and retired.

Every key that signs is recorded (``AuditSigningKey``) the first time it does,
so a rotation keeps the old public key listed: checkpoints and exports signed
before it still verify with ``GET /api/audit/keys`` or ``audit_public_key``.
"""

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit import signing
from audit.models import AuditSigningKey
from govreg_verify.checkpoint import key_id, load_public_key, private_key_pem, public_key_pem


def current_key_id() -> str:
    key = signing.required_signing_key()
    return key_id(signing.log_origin(), key.public_key()).hex()


def register(public_key: Ed25519PublicKey) -> AuditSigningKey:
    """The row of ``public_key`` under the log's origin, recorded if new."""
    origin = signing.log_origin()
    kid = key_id(origin, public_key).hex()
    row = AuditSigningKey.objects.filter(key_id=kid).first()
    if row is not None:
        return row
    row = AuditSigningKey(
        key_id=kid,
        origin=origin,
        public_key=public_key_pem(public_key).decode(),
        created_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # recorded by a concurrent signer
        return AuditSigningKey.objects.get(key_id=kid)
    return row


def known_keys() -> list[AuditSigningKey]:
    """Every key that signed, oldest first; the configured one is recorded if it has not yet."""
    key = signing.signing_key(create=True)
    if key is not None:
        register(key.public_key())
    return list(AuditSigningKey.objects.order_by("created_at", "id"))


def public_keys() -> list[Ed25519PublicKey]:
    return [load_public_key(row.public_key.encode()) for row in known_keys()]


def rotate(new_key_path: Path | None = None) -> tuple[AuditSigningKey, AuditSigningKey, Path]:
    """Retire the configured key and write a new one in its place (or at ``new_key_path``).

    The key file the deployment reads (``GOVREG_SIGNING_KEY_FILE``, the path in
    ``GOVREG_AUDIT_SIGNING_KEY``, or the embedded mode's generated file) is
    replaced atomically; with a raw base64 key in the setting, ``new_key_path``
    is required and the setting must be changed to point at it. Returns (the
    retired row, the new row, the file written).
    """
    old_key = signing.required_signing_key()
    target = new_key_path or signing.configured_key_path()
    if target is None:
        raise ImproperlyConfigured(
            f"{signing.SETTING} holds the key itself, not a file: give a path for the new key"
            f" and point {signing.FILE_SETTING} at it"
        )
    new_key = Ed25519PrivateKey.generate()
    old_row = register(old_key.public_key())
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".signing-key-")
    with os.fdopen(handle, "wb") as out:
        out.write(private_key_pem(new_key))
    os.chmod(temporary, 0o600)
    os.replace(temporary, target)
    AuditSigningKey.objects.filter(pk=old_row.pk, retired_at__isnull=True).update(
        retired_at=timezone.now()
    )
    old_row.refresh_from_db()
    new_row = register(new_key.public_key())
    return old_row, new_row, target
