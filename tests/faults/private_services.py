"""A PostgreSQL cluster and a Redis server of a test's own, on free loopback ports in a
temporary folder, so a fault test may restart, stop or kill them without touching the
services the rest of the suite (and other runs on the machine) use.

The binaries come from Debian's packages (``/usr/lib/postgresql/*/bin``, ``redis-server``).
Without them the tests skip, except under CI (``CI=true``), where they must run."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ON_CI = os.environ.get("CI", "").lower() == "true"


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def require(binary_found: bool, what: str) -> None:
    if not binary_found:
        if ON_CI:
            pytest.fail(f"{what} is not installed; CI must run the fault tests")
        pytest.skip(f"{what} is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, *, timeout: float, what: str, every: float = 0.05):
    """Poll ``condition`` until it returns something truthy, failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class PrivatePostgres:
    """One cluster: ``initdb`` into ``folder``, served by ``pg_ctl`` on ``port``."""

    def __init__(self, folder: Path):
        self.bin = _pg_bin()
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        # PostgreSQL refuses to run as root: the cluster is the postgres user's then
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("timeout", 600)  # a hung tool fails the test, not the run
        done = subprocess.run([*self.as_user, *args], capture_output=True, text=True, **kwargs)
        if check and done.returncode:
            raise AssertionError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories="
            f"{self.folder} -c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        (self.data / "pg_options").write_text(options)
        self._pg_ctl("start", "-w", "-o", options, "-l", str(self.folder / "server.log"))

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), *args)

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, the server comes back."""
        options = (self.data / "pg_options").read_text()
        # with a log file: otherwise the server keeps this command's output pipes open
        log = str(self.folder / "server.log")
        self._pg_ctl("restart", "-m", "fast", "-w", "-o", options, "-l", log)

    def stop(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "stop", "-m", "immediate", check=False
        )

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, sql: str) -> str:
        return self._run(
            str(self.bin / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql,
        ).stdout.strip()  # fmt: skip

    def create_database(self, name: str) -> None:
        self.psql("postgres", f'CREATE DATABASE "{name}"')

    def tool(self, name: str, *args: str) -> subprocess.CompletedProcess:
        """Run a client tool (pg_dump, pg_restore) against this cluster."""
        return subprocess.run(
            [str(self.bin / name), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
            + list(args),
            check=True,
            capture_output=True,
            timeout=600,
        )


class PrivateRedis:
    def __init__(self, folder: Path):
        self.binary = shutil.which("redis-server")
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder),
                "--logfile", str(self.folder / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.ping, timeout=30, what="redis-server to answer PING")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def restart(self) -> None:
        """Stop (its append-only file keeps what was queued) and start on the same port."""
        self.stop()
        self.start()


def manage(database_url: str, *args: str, env: dict | None = None, **kwargs):
    """``manage.py`` on the private cluster, as production runs it (DEBUG off)."""
    check = kwargs.pop("check", True)
    kwargs.setdefault("timeout", 900)
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=service_env(database_url, **(env or {})),
        capture_output=True,
        text=True,
        **kwargs,
    )
    if check and done.returncode:
        raise AssertionError(f"manage.py {args[0]} failed: {(done.stdout + done.stderr)[-3000:]}")
    return done


def service_env(database_url: str, **extra: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "GOVREG_", "DATABASE_", "DJANGO_"))
    }
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
        DEBUG="false",
        SECRET_KEY="fault-tests-" + "k" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        GOVREG_SSL_REDIRECT="false",
        GOVREG_SECURE_COOKIES="false",
        GOVREG_LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
    )
    env.update(extra)
    return env


@contextmanager
def private_postgres():
    """A cluster in a folder of its own (not under pytest's, which the postgres user
    may not enter), removed afterwards."""
    require(_pg_bin() is not None, "PostgreSQL (initdb, pg_ctl)")
    folder = Path(tempfile.mkdtemp(prefix="govreg-faults-pg-"))
    cluster = PrivatePostgres(folder)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def private_redis(folder: Path):
    require(shutil.which("redis-server") is not None, "redis-server")
    server = PrivateRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
