"""``govreg verify BUNDLE``: check an export bundle offline (also ``python -m govreg_verify``).

No server, no database, no Django, no network: the standard library and
``cryptography``. Exit 0 with a summary when everything holds; 1 with the
first failure (file, sequence number, what) otherwise; 3 when a file given
cannot be read.
"""

import argparse
import sys
from pathlib import Path

from govreg_verify.bundle import verify_bundle

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="BUNDLE", help="the export bundle (.zip)")
    parser.add_argument(
        "--public-key",
        metavar="FILE",
        help="PEM public key(s) to trust (from GET /api/audit/keys or `manage.py"
        " audit_public_key`); without it the bundle's own keys are used, which shows the"
        " bundle is intact but not who signed it",
    )
    parser.add_argument(
        "--previous-checkpoint",
        metavar="FILE",
        help="a signed checkpoint kept from earlier (an older export's checkpoint.txt, or"
        " GET /api/audit/checkpoint): the bundle's log must extend it",
    )


def run(args) -> int:
    try:
        public_key = Path(args.public_key).read_bytes() if args.public_key else None
        previous = (
            Path(args.previous_checkpoint).read_text(encoding="utf-8")
            if args.previous_checkpoint
            else None
        )
        if not Path(args.bundle).is_file():
            raise OSError(f"no such file: {args.bundle}")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"govreg verify: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    report = verify_bundle(args.bundle, public_key=public_key, previous_checkpoint=previous)
    if not report.ok:
        print(f"govreg verify: {report.summary()}", file=sys.stderr)
        return EXIT_FAILED
    print(report.summary())
    return EXIT_OK


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m govreg_verify", description="Verify a govreg export bundle offline."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
