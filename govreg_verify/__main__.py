import sys

from govreg_verify.cli import main

sys.exit(main())
