"""The real ``govreg`` console script against a live server, as a CI step runs it."""

import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from accounts.services import issue_token
from registry.models import Deployment, DeploymentRequest
from tests.gate.conftest import make_model, make_version

GOVREG = Path(sys.executable).with_name("govreg")

pytestmark = pytest.mark.skipif(
    not GOVREG.exists(), reason="the govreg console script is not installed (pip install -e .)"
)


def token_for(user) -> str:
    return issue_token(user, name="ci")[1]


class Running:
    """A ``govreg`` process whose output is read line by line as it comes (by a thread per
    stream), so a test can wait for what the CLI printed instead of sleeping."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: queue.Queue = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(process.stdout, self.out, True)),
            threading.Thread(target=self._read, args=(process.stderr, self.err, False)),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, stream, kept: list, announce: bool) -> None:
        for line in stream:
            kept.append(line)
            if announce:
                self.lines.put(line)
        if announce:
            self.lines.put(None)  # the CLI closed its output

    def expect(self, pattern: str, timeout: float = 30) -> re.Match:
        """The first new output line matching ``pattern``; fails if the CLI ends first."""
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"the CLI ended without printing {pattern!r}: {self.out}")
            if found := re.search(pattern, line):
                return found

    def poll(self):
        return self.process.poll()

    def kill(self):
        self.process.kill()

    @property
    def returncode(self):
        return self.process.returncode

    def communicate(self, timeout: float):
        self.process.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=timeout)
        return "".join(self.out), "".join(self.err)


def govreg(*args, token, url, wait=True, timeout=90):
    env = {**os.environ, "GOVREG_URL": url, "GOVREG_TOKEN": token}
    process = subprocess.Popen(
        [str(GOVREG), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if not wait:
        return Running(process)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def http(live_server, user):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token_for(user)}"
    session.base = live_server.url
    return session


def test_whole_path_with_the_waiting_cli(live_server, tmp_path, pipeline, version, alice, bob):
    ci_token = token_for(pipeline)
    id_file = tmp_path / "gate-request-id"
    cli = govreg(
        "gate",
        "--model",
        "loan-default",
        "--version",
        "7",
        "--environment",
        "production",
        "--wait",
        "60",
        "--commit",
        "9f2c1e7",
        "--id-file",
        str(id_file),
        token=ci_token,
        url=live_server.url,
        wait=False,
    )
    try:
        # the CLI says which request it opened once the server has answered the POST
        opened = cli.expect(r"^opened deployment request #(\d+)")
        request = DeploymentRequest.objects.get(pk=int(opened.group(1)))
        base = f"{live_server.url}/api/deployment-requests/{request.pk}"
        as_ci = http(live_server, pipeline)
        body = as_ci.get(f"{base}/", timeout=10).json()
        assert body["status"] == "pending"
        assert any("2 more approver" in reason for reason in body["reasons"])

        first = http(live_server, alice).post(f"{base}/approve", json={"comment": "ok"}, timeout=10)
        assert first.json()["status"] == "pending"
        assert cli.poll() is None, "the CLI must still be waiting after one approval"

        second = http(live_server, bob).post(f"{base}/approve", json={}, timeout=10)
        assert second.json()["status"] == "approved"

        out, err = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, (out, err)
    assert "PENDING" in out and "[FAIL] approvals-complete" in out
    assert "approved by alice" in out and "approved by bob" in out
    assert "approved: deployment request" in out

    request_id = id_file.read_text().strip()
    assert request_id == str(request.pk)
    code, out, err = govreg(
        "report", "--request-id", request_id, "--deployed", "--note", "shipped",
        token=ci_token, url=live_server.url,
    )  # fmt: skip
    assert code == 0, (out, err)
    assert "reported deployed as deployment #" in out
    # a retried CI step reports again: same deployment, still exit 0
    assert govreg("report", "--request-id", request_id, "--deployed",
                  token=ci_token, url=live_server.url)[0] == 0  # fmt: skip
    assert DeploymentRequest.objects.get(pk=request.pk).deployment == Deployment.objects.get()


def test_cli_exit_1_when_denied(live_server, team, pipeline, carol):
    from tests.gate.conftest import training_lineage

    model = make_model(team, "social-scoring", "unacceptable")
    make_version(model, training_lineage("social", author=None), "1", carol)

    code, out, err = govreg(
        "gate", "--model", "social-scoring", "--version", "1", "--environment", "staging",
        token=token_for(pipeline), url=live_server.url,
    )  # fmt: skip

    assert code == 1, (out, err)
    assert "DENIED" in out and "Policy forbids" in out


def test_cli_exit_2_when_still_pending(live_server, pipeline, version):
    started = time.monotonic()
    code, out, err = govreg(
        "gate", "--model", "loan-default", "--version", "7", "--environment", "production",
        "--wait", "1",
        token=token_for(pipeline), url=live_server.url,
    )  # fmt: skip

    assert code == 2, (out, err)
    assert "pending: no decision yet" in out
    assert time.monotonic() - started < 30
    request_id = DeploymentRequest.objects.get().pk
    # following the same request later reuses it
    code, out, _ = govreg(
        "gate", "--request-id", str(request_id), token=token_for(pipeline), url=live_server.url
    )
    assert code == 2 and f"#{request_id}" in out
    assert DeploymentRequest.objects.count() == 1


def test_cli_exit_3_on_usage_and_connection_errors(live_server, pipeline, version):
    token = token_for(pipeline)
    url = live_server.url
    # argparse errors exit 3, not argparse's usual 2 (2 means "pending")
    assert govreg("gate", "--wait", "soon", token=token, url=url)[0] == 3
    assert govreg("frobnicate", token=token, url=url)[0] == 3
    # missing arguments
    code, _, err = govreg("gate", "--model", "loan-default", token=token, url=url)
    assert code == 3 and "--version" in err
    # unknown version: the server's 400 names the field
    code, _, err = govreg(
        "gate", "--model", "loan-default", "--version", "99", "--environment", "production",
        token=token, url=url,
    )  # fmt: skip
    assert code == 3 and "version" in err
    # bad token
    code, _, err = govreg(
        "gate", "--model", "loan-default", "--version", "7", "--environment", "production",
        token="gvr_not-a-token", url=url,
    )  # fmt: skip
    assert code == 3 and "401" in err
    # nobody listening
    code, _, err = govreg(
        "gate", "--model", "loan-default", "--version", "7", "--environment", "production",
        token=token, url="http://127.0.0.1:9",
    )  # fmt: skip
    assert code == 3 and "cannot reach" in err
