"""Tasks cross the real broker to a real worker (CI starts one; skipped in eager mode)."""

import os

from audit.services import record
from audit.tasks import verify_chain
from config.celery import ping


def test_ping_goes_through_the_broker_to_a_worker_process(real_worker):
    result = ping.delay().get(timeout=60)
    assert result["pong"] is True
    assert result["pid"] != os.getpid()


def test_worker_reads_the_same_database(real_worker, transactional_db):
    for index in range(5):
        record("test.broker", object_type="tests.thing", object_id=str(index))
    answer = verify_chain.delay().get(timeout=60)
    assert answer["first_bad_seq"] is None
    assert answer["verified"] >= 5


def test_eager_mode_runs_in_process(transactional_db):
    record("test.eager", object_type="tests.thing", object_id="1")
    answer = verify_chain.delay().get(timeout=10)
    assert answer["intact"] is True
    assert (answer["first_bad_seq"], answer["reason"]) == (None, "")
    assert ping.delay().get()["pid"] == os.getpid()
