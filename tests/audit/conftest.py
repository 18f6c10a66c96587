import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.services import record
from govreg_verify.checkpoint import public_key_pem

SIGNING_KEY = Ed25519PrivateKey.generate()
SIGNING_KEY_B64 = base64.b64encode(SIGNING_KEY.private_bytes_raw()).decode()
PUBLIC_PEM = public_key_pem(SIGNING_KEY.public_key())


@pytest.fixture
def signing_key(settings, tmp_path):
    """The deployment's key, as a base64 setting; exports kept in a temporary folder."""
    settings.GOVREG_AUDIT_SIGNING_KEY = SIGNING_KEY_B64
    settings.GOVREG_SIGNING_KEY_FILE = None
    settings.GOVREG_AUDIT_LOG_ORIGIN = "govreg.example.com/audit"
    settings.GOVREG_AUDIT_EXPORT_DIR = str(tmp_path / "exports")
    return SIGNING_KEY


def append_events(count: int, *, object_id=lambda index: str(index % 3)) -> None:
    for index in range(count):
        record(
            "test.event", object_type="tests.thing", object_id=object_id(index), after={"n": index}
        )
