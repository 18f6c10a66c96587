"""The ``govreg`` command for CI steps. It talks to the server over HTTP only and
imports nothing of the server (it runs in CI images without Django)."""
