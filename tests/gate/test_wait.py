"""GET ?wait=S holds the answer until the status changes, without holding a transaction."""

import threading
import time

import pytest
import requests
from django.db import connection

from accounts.services import issue_token
from registry.gate import services
from tests.gate.conftest import ask


def idle_in_transaction() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_waiting_read_returns_when_the_board_decides(
    live_server, api, pipeline, version, alice, bob
):
    request_id = ask(api(pipeline), version).json()["id"]
    token = issue_token(pipeline, name="ci")[1]
    answer = {}

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
    time.sleep(1.5)  # let the server enter its wait loop (a real concurrent client)
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
def test_waiting_holds_no_transaction_open(live_server, api, pipeline, version):
    request_id = ask(api(pipeline), version).json()["id"]
    token = issue_token(pipeline, name="ci")[1]
    waiter = threading.Thread(
        target=requests.get,
        args=(f"{live_server.url}/api/deployment-requests/{request_id}/",),
        kwargs={"params": {"wait": 3}, "headers": {"Authorization": f"Bearer {token}"}},
    )
    waiter.start()
    seen = []
    while waiter.is_alive():
        seen.append(idle_in_transaction())
        time.sleep(0.2)
    assert len(seen) >= 5 and max(seen) == 0
