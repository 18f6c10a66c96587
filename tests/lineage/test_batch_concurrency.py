"""The batch endpoint is not one transaction: while a large batch is ingested, another
client's audited write waits for at most one event of it, never for the whole batch
(PostgreSQL, govreg behind gunicorn)."""

import json
import threading

import pytest
import requests
from django.core.management import call_command

from accounts.services import issue_token
from lineage.models import LineageEvent
from tests.gunicorn import serve
from tests.lineage.factories import dataset, run_event, schema_facet

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(transactional_db, tmp_path):
    with serve(tmp_path / "gunicorn.log") as url:
        yield url


def _headers(user) -> dict:
    return {"Authorization": f"Bearer {issue_token(user, name='batch')[1]}"}


def test_a_large_batch_never_holds_another_clients_write(server, pipeline_user, owner):
    count = 1000  # GOVREG_LINEAGE_MAX_BATCH_EVENTS: the largest batch one request may carry
    batch = [
        run_event(
            job=f"etl_{n % 50}",
            inputs=[dataset(f"raw_{n % 200}", **{"schema": schema_facet("id", "amount")})],
            outputs=[dataset(f"clean_{n}", version=f"md5:{n:032x}")],
            minutes=n,
        )
        for n in range(count)
    ]
    body = json.dumps(batch).encode()
    pipeline = {**_headers(pipeline_user), "Content-Type": "application/json"}
    engineer = _headers(owner)
    answer = {}

    def send():
        answer["response"] = requests.post(
            f"{server}/api/v1/lineage/batch", data=body, headers=pipeline, timeout=1800
        )

    # Warm both workers (a cold one's first answer can outlast the whole batch): sync
    # workers take one request at a time, so requests sent together reach both.
    warmed = []

    def warm():
        for _ in range(3):
            response = requests.post(f"{server}/api/v1/lineage", json=run_event(), headers=engineer)
            warmed.append(response.status_code)

    warmers = [threading.Thread(target=warm) for _ in range(2)]
    for thread in warmers:
        thread.start()
    for thread in warmers:
        thread.join()
    assert warmed == [201] * 6, warmed
    sender = threading.Thread(target=send)
    writes = []  # batch events stored when each single write finished
    sender.start()
    try:
        while sender.is_alive() and len(writes) < 3000:
            single = requests.post(
                f"{server}/api/v1/lineage", json=run_event(job="other"), headers=engineer
            )
            assert single.status_code == 201, single.text[:300]
            writes.append(LineageEvent.objects.exclude(job_name="other").count())
    finally:
        sender.join()

    response = answer["response"]
    assert response.status_code == 200, response.text[:300]
    assert response.json()["summary"]["stored"] == count
    during = [stored for stored in writes if 6 < stored < count + 6]
    assert len(during) >= 10, writes[:20]
    # No write waited for the batch: they finished at several points of its progress
    # (counted, not timed: a wall-clock bound fails on a busy machine, not on a bug).
    progress = sorted(set(during))
    assert len(progress) >= 3, progress
    call_command("verify_audit")
