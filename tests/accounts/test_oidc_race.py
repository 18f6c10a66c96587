"""Two first sign-ins of the same person at once (two browser tabs, a double click on
the provider's page): the second request meets the account and identity the first one
is making, waits for it on the unique indexes, and signs in as it instead of answering
500. Service level, on PostgreSQL (SQLite serialises the whole database)."""

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from accounts.models import SsoIdentity
from accounts.oidc import SignInRefused, sign_in_from_claims
from tests.accounts.test_oidc import cfg, claims, env  # noqa: F401 - fixtures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _waiting_locks(pid: int) -> int:
    """Lock requests of backend ``pid`` waiting for another transaction (pg_locks is
    read live; the activity view would hold one snapshot for the whole transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
        return cursor.fetchone()[0]


def _race(cfg, second_claims):  # noqa: F811 - the cfg fixture's value
    """The first sign-in runs here and stays uncommitted until the second, in a thread,
    waits on its rows; then it commits. Returns (first user, second outcome)."""
    outcome = {}
    started, ready = threading.Event(), threading.Event()

    def second():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                outcome["pid"] = cursor.fetchone()[0]
            ready.set()
            started.wait(timeout=30)
            outcome["user"] = sign_in_from_claims(second_claims, cfg)
        except Exception as exc:  # surfaced by the caller
            outcome["error"] = exc
        finally:
            connection.close()

    worker = threading.Thread(target=second)
    worker.start()
    assert ready.wait(timeout=30)
    with transaction.atomic():
        first = sign_in_from_claims(claims(), cfg)
        started.set()
        deadline = time.monotonic() + 30  # a bound on the wait, not a wait itself
        while _waiting_locks(outcome["pid"]) == 0:
            assert worker.is_alive(), outcome
            assert time.monotonic() < deadline, "the second sign-in never waited on the first"
    worker.join(timeout=30)
    assert not worker.is_alive()
    return first, outcome


def test_the_second_of_two_first_sign_ins_signs_in_as_the_account_the_first_made(cfg):  # noqa: F811
    first, outcome = _race(cfg, claims())
    assert "error" not in outcome, outcome
    assert outcome["user"].pk == first.pk
    assert get_user_model().objects.filter(username="carol").count() == 1
    identity = SsoIdentity.objects.get(issuer=claims()["iss"], subject="u-1")
    assert identity.user_id == first.pk and identity.last_sign_in is not None


def test_another_person_racing_for_the_same_name_is_still_refused(cfg):  # noqa: F811
    first, outcome = _race(cfg, claims(sub="someone-else"))
    assert isinstance(outcome.get("error"), SignInRefused), outcome
    assert "not taken over" in str(outcome["error"])
    assert not SsoIdentity.objects.filter(subject="someone-else").exists()
    assert SsoIdentity.objects.get(subject="u-1").user_id == first.pk
