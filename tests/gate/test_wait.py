"""GET ?wait=S holds the answer until the status changes, without holding a transaction."""

import threading
import time

import pytest
import requests
from django.core.signals import request_started
from django.db import connection, connections

from accounts.services import issue_token
from registry.gate import services
from registry.models import DeploymentRequest
from tests.gate.conftest import ask


def idle_in_transaction() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


class ServerReads:
    """Counts the live server's reads of the deployment request table, so a test acts on
    what the server has done (read the request, then poll it again while waiting) instead
    of sleeping and hoping it got there. Installed on the server thread's connections at
    the start of each request it handles; the test thread's own queries are not counted."""

    def __init__(self):
        self.count = 0
        self.answered = False
        self.changed = threading.Condition()
        self.test_thread = threading.current_thread()
        self.table = DeploymentRequest._meta.db_table
        self.installed = []

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        is_read = sql.lstrip().upper().startswith("SELECT") and self.table in sql
        if is_read and threading.current_thread() is not self.test_thread:
            with self.changed:
                self.count += 1
                self.changed.notify_all()
        return result

    def install(self, **_):
        for conn in connections.all():
            if self not in conn.execute_wrappers:
                conn.execute_wrappers.append(self)
                self.installed.append(conn)

    def uninstall(self):
        for conn in self.installed:
            if self in conn.execute_wrappers:
                conn.execute_wrappers.remove(self)

    def answer_came(self):
        with self.changed:
            self.answered = True
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30) -> int:
        """Until the server has read the request ``count`` times (or a waiting answer came)."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.count >= count or self.answered, timeout):
                raise AssertionError(f"the server read the request {self.count} times, not {count}")
            return self.count


@pytest.fixture
def server_reads():
    reads = ServerReads()
    request_started.connect(reads.install, dispatch_uid="tests-gate-server-reads")
    yield reads
    request_started.disconnect(dispatch_uid="tests-gate-server-reads")
    reads.uninstall()


def plain_answer_reads(live_server, server_reads, request_id, token) -> int:
    """How many reads a plain (not waiting) answer costs: any read beyond that in a
    waiting answer is the wait loop polling."""
    before = server_reads.count
    response = requests.get(
        f"{live_server.url}/api/deployment-requests/{request_id}/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200
    return server_reads.count - before


def test_a_waiting_read_returns_when_the_board_decides(
    live_server, server_reads, api, pipeline, version, alice, bob
):
    request_id = ask(api(pipeline), version).json()["id"]
    token = issue_token(pipeline, name="ci")[1]
    answer = {}
    plain = plain_answer_reads(live_server, server_reads, request_id, token)
    start = server_reads.count

    def wait():
        started = time.monotonic()
        response = requests.get(
            f"{live_server.url}/api/deployment-requests/{request_id}/",
            params={"wait": 30},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        answer.update(response.json(), elapsed=time.monotonic() - started)

    waiter = threading.Thread(target=wait)
    waiter.start()
    # the server answered what a plain read answers, found it pending, and polls again
    server_reads.wait_for(start + plain + 1)
    assert waiter.is_alive()
    if connection.vendor == "postgresql":
        assert idle_in_transaction() == 0
    services.approve(request_id, alice, "ok")
    services.approve(request_id, bob, "ok")
    waiter.join(timeout=40)

    assert answer["status"] == "approved"
    assert answer["elapsed"] < 25
    assert [a["approver"] for a in answer["approvals"]] == ["alice", "bob"]


@pytest.mark.postgres
def test_waiting_holds_no_transaction_open(live_server, server_reads, api, pipeline, version):
    request_id = ask(api(pipeline), version).json()["id"]
    token = issue_token(pipeline, name="ci")[1]

    def wait():
        requests.get(
            f"{live_server.url}/api/deployment-requests/{request_id}/",
            params={"wait": 3},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        server_reads.answer_came()

    waiter = threading.Thread(target=wait)
    waiter.start()
    # one sample after each read of the waiting server: between its polls is exactly when
    # a transaction held open would show as "idle in transaction"
    seen, reads = [], server_reads.wait_for(1)
    while not server_reads.answered:
        seen.append(idle_in_transaction())
        reads = server_reads.wait_for(reads + 1)
    waiter.join(timeout=30)
    assert len(seen) >= 5 and max(seen) == 0
