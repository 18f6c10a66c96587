"""govreg served by gunicorn in processes of its own, on the running test's database,
for tests that measure what one client's request does to another's (the issue's
"behind gunicorn"): an in-process live server would share one interpreter lock
between the storm and the client being measured."""

import os
import signal
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from tests.utils import manage_env

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(log_path: Path, *, workers: int = 2, **env_overrides: str):
    """Serve on a free 127.0.0.1 port (``workers`` sync workers, the app loaded before
    forking, DEBUG off, eager Celery as in the embedded default unless ``CELERY_BROKER_URL``
    is given); yield the base URL.
    The data a test wants the server to see must be committed (a transactional test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = manage_env(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY="gunicorn-test-" + "k" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        GOVREG_SSL_REDIRECT="false",
        GOVREG_SECURE_COOKIES="false",
        GOVREG_LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        **env_overrides,
    )
    if "CELERY_BROKER_URL" not in env_overrides:
        env.pop("CELERY_BROKER_URL", None)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--preload",
            "--timeout",
            "1800",
            "--log-level",
            "info",
            "--error-logfile",
            "-",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out = log_path.open("w")
    booted = 0
    for line in server.stderr:  # blocks until gunicorn says each worker booted
        out.write(line)
        booted += "Booting worker" in line
        if booted == workers:
            break
    drain = threading.Thread(target=lambda: out.writelines(server.stderr), daemon=True)
    drain.start()
    try:
        if booted != workers:
            out.flush()
            raise RuntimeError(f"gunicorn did not start: {log_path.read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        drain.join(timeout=10)
        out.close()
