"""Shared helpers for the scripts in bench/: scratch databases, a govreg server, statistics.

Not a benchmark itself. The scripts import it as ``import harness`` (run as
``.venv/bin/python bench/<name>.py``, Python puts bench/ first on sys.path);
importing it also puts the repository root on sys.path so the scripts can
import govreg's apps (``config``, ``audit``, ``registry``...).

PostgreSQL is reached at ``BENCH_PG`` (default postgres://postgres@127.0.0.1:5432),
trust auth; every script creates its own scratch database and drops it at the end.
"""

import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
HOST = "127.0.0.1"
# One key per benchmark run, so every process of the run (setup, gunicorn) agrees.
SECRET_KEY = "bench-" + secrets.token_urlsafe(40)


# --- scratch databases ----------------------------------------------------------------


def dsn(database: str) -> str:
    """The connection URL of ``database`` on the benchmark server."""
    return f"{SERVER}/{database}"


def admin_sql(sql: str) -> None:
    """Run one statement on the server's ``postgres`` database, outside a transaction."""
    with psycopg.connect(dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql)


def recreate_database(database: str) -> None:
    """Drop ``database`` if a previous run left it (disconnecting its sessions); create it."""
    drop_database(database)
    admin_sql(f"CREATE DATABASE {database}")


def drop_database(database: str) -> None:
    """Drop ``database`` if it exists, disconnecting any session still on it."""
    admin_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


# --- govreg ---------------------------------------------------------------------------


def govreg_env(database: str, **overrides: str) -> dict:
    """The environment of a production-like govreg on ``database``: this process's
    environment plus DEBUG off, no HTTPS redirect or secure cookies (plain HTTP on
    127.0.0.1), warnings-only logging; ``overrides`` (e.g. EMAIL_BACKEND) win."""
    return {
        **os.environ,
        "DATABASE_URL": dsn(database),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "GOVREG_SSL_REDIRECT": "false",
        "GOVREG_SECURE_COOKIES": "false",
        "GOVREG_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        **overrides,
    }


def setup_django(database: str, **overrides: str) -> None:
    """Configure this process as govreg on ``database`` (``govreg_env``) and migrate it."""
    os.environ.update(govreg_env(database, **overrides))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_http(url: str, seconds: float = 120, process: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers 2xx (new connection per try). Fail with RuntimeError
    after ``seconds``, or as soon as ``process`` (the server being started) has exited;
    a ``process`` that never answered is stopped (``stop``) before failing."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2, headers={"Connection": "close"}).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    if process is not None:
        stop(process)
    raise RuntimeError(f"{url} did not answer within {seconds:g}s")


def start_govreg(env: dict, workers: int, quiet: bool = False) -> tuple[subprocess.Popen, str]:
    """Serve govreg with gunicorn (``workers`` sync workers) on a free 127.0.0.1 port,
    in its own process group; wait for /healthz. Returns the process and the base URL.
    The server's output goes to this terminal, or nowhere with ``quiet``.
    Stop it with ``stop``."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi:application",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.DEVNULL if quiet else None,
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    wait_http(base + "/healthz", process=process)
    return process, base


def stop(process: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session=True`` and all its children:
    SIGTERM to its process group, SIGKILL if it is still there after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- load and statistics --------------------------------------------------------------


class Load:
    """Run ``call`` from ``clients`` threads for ``seconds``; ``call`` returns a dict of
    named latencies in ms. After ``run()``: ``samples`` (name -> list of ms), ``done``
    (successful calls), ``errors`` (calls that raised a requests error or failed an
    assertion) and ``elapsed`` (seconds)."""

    def __init__(self, call, clients: int, seconds: float):
        self.call, self.clients, self.seconds = call, clients, seconds
        self.samples: dict[str, list[float]] = {}
        self.done = 0
        self.errors = 0
        self.elapsed = 0.0
        self.lock = threading.Lock()

    def run(self) -> "Load":
        stop_at = time.monotonic() + self.seconds
        started = time.monotonic()

        def worker():
            while time.monotonic() < stop_at:
                try:
                    timings = self.call()
                except (requests.RequestException, AssertionError):
                    with self.lock:
                        self.errors += 1
                    continue
                with self.lock:
                    self.done += 1
                    for name, ms in timings.items():
                        self.samples.setdefault(name, []).append(ms)

        threads = [threading.Thread(target=worker) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.elapsed = time.monotonic() - started
        return self


def timed(operation, count: int) -> list[float]:
    """Call ``operation(index)`` for index 0..count-1, one after the other; latencies in ms."""
    latencies = []
    for index in range(count):
        start = time.perf_counter()
        operation(index)
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def percentile(values, q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank: the smallest value with at least
    q% of the values at or below it. NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = -(-q * len(ordered) // 100)  # ceil(q / 100 * n), exact for integer q
    return ordered[min(len(ordered) - 1, max(0, int(rank) - 1))]


def describe(latencies_ms: list[float]) -> dict:
    """Median, p95, min, max (ms), sequential throughput (per second) and count."""
    return {
        "median_ms": statistics.median(latencies_ms),
        "p95_ms": percentile(latencies_ms, 95),
        "min_ms": min(latencies_ms),
        "max_ms": max(latencies_ms),
        "per_s": len(latencies_ms) / (sum(latencies_ms) / 1000),
        "n": len(latencies_ms),
    }


def line(label: str, stats: dict, width: int = 34, figures: int = 8, rate: bool = False) -> str:
    """One row of a ``describe`` result: label padded to ``width``, then requests per
    second (with ``rate``), median and p95 in ``figures`` columns, min-max and n."""
    per_s = f"{stats['per_s']:8.1f}/s  " if rate else ""
    return (
        f"  {label:<{width}} {per_s}median {stats['median_ms']:{figures}.2f} ms"
        f"  p95 {stats['p95_ms']:{figures}.2f} ms"
        f"  min-max {stats['min_ms']:.2f}-{stats['max_ms']:.2f} ms  (n={stats['n']})"
    )
