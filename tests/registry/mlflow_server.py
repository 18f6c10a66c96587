"""A real ``mlflow server`` for the MLflow sync's tests (MLflow from PyPI, SQLite backend).

The full ``mlflow`` package is a server with a web UI and many dependencies; govreg
itself needs only the client (``mlflow-skinny``). So the server lives in a virtualenv
of its own, ``.venv-mlflow`` in the checkout (or ``GOVREG_MLFLOW_SERVER_VENV``), made
once on first use and reused by every later run (CI's SQLite and PostgreSQL passes
share it). Without it and without a way to make it, the tests skip, except under
``CI=true``, where they fail.
"""

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SERVER_REQUIREMENT = "mlflow>=3.5,<4"
HOST = "127.0.0.1"


def venv_dir() -> Path:
    return Path(os.environ.get("GOVREG_MLFLOW_SERVER_VENV") or ROOT / ".venv-mlflow")


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"the MLflow server for the sync's tests is needed in CI: {reason}")
    pytest.skip(reason)


def ensure_server_venv() -> Path:
    """The virtualenv with ``mlflow``, made once (under a file lock, so two test runs
    never install into it together)."""
    venv = venv_dir()
    mlflow = venv / "bin" / "mlflow"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".venv-mlflow.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if mlflow.exists():
            return venv
        started = time.monotonic()
        print(f"\ninstalling {SERVER_REQUIREMENT} into {venv} (once) ...", file=sys.stderr)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "--quiet", SERVER_REQUIREMENT],
                check=True,
                timeout=900,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            _unavailable(f"could not install {SERVER_REQUIREMENT} into {venv}: {exc}")
        print(f"installed in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return venv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def closed_port_uri() -> str:
    """A tracking URI where nothing listens."""
    return f"http://{HOST}:{free_port()}"


class MLflowServer:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.uri = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, seconds: float = 180) -> "MLflowServer":
        venv = ensure_server_venv()
        env = {
            **os.environ,
            # Registry webhooks to govreg's live test server on this machine.
            "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
            "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
            "MLFLOW_WEBHOOK_CACHE_TTL": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        log = open(self.workdir / "mlflow-server.log", "w")  # noqa: SIM115 (kept open by the server)
        self.process = subprocess.Popen(
            [
                str(venv / "bin" / "mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.workdir / 'mlflow.db'}",
                "--default-artifact-root",
                str(self.workdir / "artifacts"),
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.workdir / "mlflow-server.log").read_text()[-2000:]
                _unavailable(f"mlflow server exited with {self.process.returncode}: {tail}")
            try:
                if requests.get(self.uri + "/health", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.25)  # polling a starting process, not waiting for a result
        self.stop()
        _unavailable(f"mlflow server did not answer on {self.uri} within {seconds:.0f} s")
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
