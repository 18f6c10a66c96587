"""The deployment's signing key, from ``GOVREG_SIGNING_KEY_FILE`` or ``GOVREG_AUDIT_SIGNING_KEY``.

``GOVREG_SIGNING_KEY_FILE`` is the path of a PEM (PKCS#8) Ed25519 private key.
``GOVREG_AUDIT_SIGNING_KEY`` (the older setting, still read) is such a path
or the base64 of the key's 32 raw bytes; setting both is an error. With
``DEBUG`` on and neither set, the embedded mode generates a PEM key once into
a file next to the SQLite database (``<database
file>-audit-signing-key.pem``), so ``make run`` signs checkpoints with nothing
to configure. With ``DEBUG`` off and no value nothing is generated: ``check
--deploy`` warns (audit.W001) and signing a checkpoint fails, naming the
variable.
"""

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from govreg_verify.checkpoint import (
    CheckpointError,
    check_key_name,
    load_private_key,
    load_public_key,
    private_key_pem,
)

SETTING = "GOVREG_AUDIT_SIGNING_KEY"
FILE_SETTING = "GOVREG_SIGNING_KEY_FILE"


def log_origin() -> str:
    """The name the checkpoints carry on their first line (``GOVREG_AUDIT_LOG_ORIGIN``)."""
    origin = settings.GOVREG_AUDIT_LOG_ORIGIN
    try:
        check_key_name(origin, what="GOVREG_AUDIT_LOG_ORIGIN")
    except CheckpointError as exc:
        raise ImproperlyConfigured(str(exc)) from None
    return origin


def development_key_path() -> Path:
    """Where the embedded mode keeps its generated key: beside the SQLite database."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) not in {
        "",
        ":memory:",
    }:
        name = Path(database["NAME"])
        return name.with_name(name.name + "-audit-signing-key.pem")
    return Path(settings.BASE_DIR) / "govreg-audit-signing-key.pem"


def configured_key_path() -> Path | None:
    """The key file the deployment names or generates (None: a raw key in the setting)."""
    if settings.GOVREG_SIGNING_KEY_FILE:
        return Path(settings.GOVREG_SIGNING_KEY_FILE).expanduser()
    value = settings.GOVREG_AUDIT_SIGNING_KEY
    if value:
        path = Path(value).expanduser()
        return path if path.is_file() else None
    return development_key_path() if settings.DEBUG else None


def _from_file(value: str) -> Ed25519PrivateKey:
    path = Path(value).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImproperlyConfigured(f"{FILE_SETTING}: cannot read {value!r}: {exc}") from None
    if not data.lstrip().startswith(b"-----BEGIN"):
        raise ImproperlyConfigured(f"{FILE_SETTING}: {value!r} is not a PEM private key")
    try:
        return load_private_key(data)
    except CheckpointError as exc:
        raise ImproperlyConfigured(f"{FILE_SETTING}: the key file {value!r} is {exc}") from None


def _from_setting(value: str) -> Ed25519PrivateKey:
    path = Path(value).expanduser()
    if path.is_file():
        try:
            return load_private_key(path.read_bytes())
        except CheckpointError as exc:
            raise ImproperlyConfigured(f"{SETTING}: the key file {value!r} is {exc}") from None
        except OSError as exc:
            raise ImproperlyConfigured(f"{SETTING}: cannot read {value!r}: {exc}") from None
    try:
        return load_private_key(value.encode())
    except CheckpointError:
        raise ImproperlyConfigured(
            f"{SETTING} must be the path of a PEM Ed25519 private key or the base64 of a"
            " 32-byte raw key; it is neither (no such file, not base64 of 32 bytes)"
        ) from None


def _generate_once(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process was first: use its key
        return load_private_key(path.read_bytes())
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_key_pem(key))
    return key


def signing_key(*, create: bool = False) -> Ed25519PrivateKey | None:
    """The private key, or None when there is none (and ``create`` may not make one).

    ``create`` lets the embedded mode generate its key file on first use; it
    never applies with ``DEBUG`` off.
    """
    value = settings.GOVREG_AUDIT_SIGNING_KEY
    if settings.GOVREG_SIGNING_KEY_FILE:
        if value:
            raise ImproperlyConfigured(
                f"set {FILE_SETTING} or {SETTING}, not both: they name the same signing key"
            )
        return _from_file(settings.GOVREG_SIGNING_KEY_FILE)
    if value:
        return _from_setting(value)
    if not settings.DEBUG:
        return None
    path = development_key_path()
    if path.is_file():
        try:
            return load_private_key(path.read_bytes())
        except CheckpointError as exc:
            raise ImproperlyConfigured(
                f"the generated audit signing key {path} is {exc}; remove it or set {SETTING}"
            ) from None
    return _generate_once(path) if create else None


def required_signing_key() -> Ed25519PrivateKey:
    key = signing_key(create=True)
    if key is None:
        raise ImproperlyConfigured(
            f"{FILE_SETTING} (or {SETTING}) is not set, so audit checkpoints cannot be signed;"
            " generate a key"
            " with `openssl genpkey -algorithm ed25519 -out audit-signing-key.pem` and set"
            f" {FILE_SETTING} to its path"
        )
    return key


def verification_key(public_key_pem: bytes | None = None) -> Ed25519PublicKey | None:
    """The key checkpoints are checked with: an exported public key, else the configured one."""
    if public_key_pem is not None:
        return load_public_key(public_key_pem)
    key = signing_key()
    return None if key is None else key.public_key()
