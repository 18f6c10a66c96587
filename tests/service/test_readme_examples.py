"""Every curl example of the README works as written against a fresh ``make run``.

The module's server does what ``make run`` does, in a temporary directory: a new
SQLite file, ``migrate``, ``seed_demo``, ``runserver`` with ``DEBUG=true`` and no
broker (tasks run eagerly), on a free port. The README's token variables are
issued with ``manage.py issue_token`` for the demo users they stand for. Each
example that talks to ``http://127.0.0.1:8000`` runs through bash with the real
curl, in README order (later examples use what earlier ones made), and must
answer 2xx, or the status that the comment line right after it starts with
(``# 409 ...`` or ``# -> 202 ...``). Variables set (``NAME=...``) on the lines
right before a curl run with it.
"""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BASE = "http://127.0.0.1:8000"

# The README's variables and the demo user each stands for.
TOKEN_USERS = {
    "TOKEN": "admin",  # a person with every right (sections say when another role is needed)
    "GOVREG_TOKEN": "pipeline",  # the CI service account of every team
    "APPROVER_TOKEN": "approver2",  # the second approver of loan-default@3's request
}

# Examples that cannot run against a fresh `make run`, by a text they contain.
SKIPPED = {
    "-d @events.json": "posts a file of the reader's own events",
    "--data-binary @report.xml": "posts the reader's own JUnit report",
    "/api/lineage/dvc-imports": "reads a DVC repository outside the project "
    "(GOVREG_LINEAGE_DVC_ROOTS is off in make run)",
}


@dataclass(frozen=True)
class Example:
    line: int
    command: str
    expected: int | None  # None: any 2xx

    @property
    def id(self) -> str:
        method = re.search(r"-X\s+(\w+)", self.command)
        verb = (
            method.group(1) if method else ("POST" if re.search(r"\s-d\s", self.command) else "GET")
        )
        path = re.search(re.escape(BASE) + r"([^\s'\"?]*)", self.command)
        return f"L{self.line} {verb} {path.group(1) if path else ''}"


def _complete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def readme_examples(text: str) -> list[Example]:
    """The curl commands of the README's shell blocks that target the local server."""
    found = []
    for block in re.finditer(r"^```(?:sh|bash|shell)\n(.*?)^```", text, re.M | re.S):
        first_line = text.count("\n", 0, block.start(1)) + 1
        lines = block.group(1).splitlines()
        index = 0
        while index < len(lines):
            if not lines[index].lstrip().startswith("curl "):
                index += 1
                continue
            start = index
            # Shell variables set on the lines right before a curl belong to its example.
            prelude = start
            while prelude > 0 and re.match(r"[A-Z_][A-Z0-9_]*=", lines[prelude - 1]):
                prelude -= 1
            command = "\n".join(lines[prelude : index + 1])
            while not _complete(command) and index + 1 < len(lines):
                index += 1
                command += "\n" + lines[index]
            expected = None
            if index + 1 < len(lines):
                status = re.match(r"\s*#\s*(?:->\s*)?([1-5]\d\d)\b", lines[index + 1])
                expected = int(status.group(1)) if status else None
            if BASE in command:
                found.append(Example(first_line + start, command, expected))
            index += 1
    return found


EXAMPLES = readme_examples(README.read_text())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _make_run_env(directory: Path) -> dict:
    """The environment of `make run`: nothing of the test run's database or broker."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_URL", "CELERY_", "GOVREG_", "DJANGO_"))
    }
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{directory / 'govreg.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(env, *args) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def _wait_until_serving(server: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"runserver exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)  # poll the port; the server binds after it prints its banner
    pytest.fail(f"runserver did not listen on {port}:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """A fresh `make run`: migrated, seeded, serving; yields its URL and the README's
    variables."""
    directory = tmp_path_factory.mktemp("make-run")
    env = _make_run_env(directory)
    _manage(env, "migrate", "--noinput")
    _manage(env, "seed_demo")
    variables = {
        name: _manage(env, "issue_token", user, "--expires-days", "1", "--name", "readme")
        .strip()
        .splitlines()[-1]
        for name, user in TOKEN_USERS.items()
    }
    _manage(env, "issue_token", "admin", "--expires-days", "1", "--name", "laptop-old")
    port = _free_port()
    log = directory / "runserver.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_serving(server, port, log)
        url = f"http://127.0.0.1:{port}"
        # $TOKEN_ID: the id of one of admin's own tokens, as GET /api/tokens/ lists it.
        listing = urllib.request.Request(
            f"{url}/api/tokens/", headers={"Authorization": f"Bearer {variables['TOKEN']}"}
        )
        with urllib.request.urlopen(listing, timeout=30) as answer:  # noqa: S310 - local server
            tokens = json.load(answer)
        tokens = tokens.get("results", tokens) if isinstance(tokens, dict) else tokens
        variables["TOKEN_ID"] = next(t["id"] for t in tokens if t["name"] == "laptop-old")
        yield {"url": url, "variables": variables, "directory": directory, "log": log}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_readme_has_examples_for_every_section():
    assert len(EXAMPLES) > 60
    paths = " ".join(example.command for example in EXAMPLES)
    for api in ("/api/models/", "/api/deployment-requests/", "/api/risks/", "/api/incidents/"):
        assert api in paths


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_readme_example(example, make_run):
    for text, reason in SKIPPED.items():
        if text in example.command:
            pytest.skip(reason)
    body = make_run["directory"] / "answer"
    body.unlink(missing_ok=True)
    command = example.command.replace(BASE, make_run["url"]).replace(
        "curl ", f"curl -sS -o {shlex.quote(str(body))} -w '%{{http_code}}' ", 1
    )
    done = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, **make_run["variables"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    answer = body.read_text(errors="replace") if body.exists() else ""  # a PDF or zip, too
    status = int(done.stdout.strip()[-3:] or 0) if done.stdout.strip()[-3:].isdigit() else 0
    wanted = f"{example.expected}" if example.expected else "2xx"
    ok = status == example.expected if example.expected else 200 <= status < 300
    assert ok, (
        f"README line {example.line} answered {status}, expected {wanted}:\n"
        f"{example.command}\n--- answer\n{answer[:2000]}\n--- curl\n{done.stderr[-1000:]}"
    )
