"""The audit trail: what is recorded, and that every kind of tampering is detected."""

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.models import AuditChainHead, AuditEvent
from audit.services import record, record_many
from registry.services import register_model
from tests.conftest import token_client
from tests.utils import manage_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(db):
    for index in range(6):
        record("test.event", object_type="tests.thing", object_id=str(index), after={"n": index})
    return list(AuditEvent.objects.filter(action="test.event").order_by("seq"))


def verify() -> str:
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


class unguarded:
    """Lift the append-only trigger for the block, as an attacker with DBA rights could."""

    def __enter__(self):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only"
                )

    def __exit__(self, *exc):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only"
                )


def test_intact_chain_verifies(chain):
    total = AuditEvent.objects.count()
    assert f"verified {total} audit events" in verify()
    seqs = list(AuditEvent.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    events = list(AuditEvent.objects.order_by("seq"))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))


def test_altered_event_is_detected(chain):
    victim = chain[3]
    with unguarded():
        AuditEvent.objects.filter(pk=victim.pk).update(after={"n": 999})
    with pytest.raises(CommandError, match=f"sequence {victim.seq}: content does not match"):
        verify()


def test_deleted_event_is_detected(chain):
    victim = chain[2]
    with unguarded():
        AuditEvent.objects.filter(pk=victim.pk).delete()
    with pytest.raises(CommandError, match=f"sequence {victim.seq}"):
        verify()


def test_deleted_last_event_is_detected(chain):
    victim = AuditEvent.objects.order_by("-seq").first()
    with unguarded():
        AuditEvent.objects.filter(pk=victim.pk).delete()
    with pytest.raises(CommandError, match=f"sequence {victim.seq}: chain head records"):
        verify()


def test_reordered_events_are_detected(chain):
    first, second = chain[1], chain[2]
    assert second.seq == first.seq + 1
    with unguarded():
        AuditEvent.objects.filter(pk=first.pk).update(seq=-1)
        AuditEvent.objects.filter(pk=second.pk).update(seq=first.seq)
        AuditEvent.objects.filter(pk=first.pk).update(seq=second.seq)
    with pytest.raises(CommandError, match=f"sequence {first.seq}"):
        verify()


def test_inserted_event_is_detected(chain):
    after = chain[3]
    with unguarded():
        # make room after event 4 and forge an event whose own hash is right
        for event in AuditEvent.objects.filter(seq__gt=after.seq).order_by("-seq"):
            AuditEvent.objects.filter(pk=event.pk).update(seq=event.seq + 1)
        forged = AuditEvent(
            seq=after.seq + 1,
            created_at=after.created_at,
            action="test.forged",
            object_type="tests.thing",
            object_id="x",
            prev_hash=after.hash,
        )
        from audit.chain import event_hash

        forged.hash = event_hash(forged.as_record())
        forged.save()
    AuditChainHead.objects.filter(pk=1).update(last_seq=AuditEvent.objects.count())
    with pytest.raises(CommandError, match=f"sequence {after.seq + 2}: previous-hash link broken"):
        verify()


def test_verify_command_exits_non_zero_from_the_shell(transactional_db):
    for index in range(3):
        record("test.event", object_type="tests.thing", object_id=str(index))
    ok = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        capture_output=True,
        text=True,
        env=manage_env(),
    )
    assert ok.returncode == 0, ok.stderr
    assert "chain intact" in ok.stdout
    victim = AuditEvent.objects.order_by("seq")[1]
    with unguarded():
        AuditEvent.objects.filter(pk=victim.pk).update(action="tampered")
    bad = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        capture_output=True,
        text=True,
        env=manage_env(),
    )
    assert bad.returncode != 0
    assert f"sequence {victim.seq}" in bad.stderr


def test_api_changes_are_recorded_with_actor_request_and_source(team, owner):
    client = token_client(owner)
    response = client.post(
        "/api/models/",
        {"name": "churn", "team": team.name, "risk_tier": "limited", "description": "Churn."},
        format="json",
        HTTP_X_REQUEST_ID="req-123",
    )
    assert response.status_code == 201, response.json()
    assert response["X-Request-ID"] == "req-123"
    event = AuditEvent.objects.get(object_type="registry.mlmodel", action="create")
    assert event.actor_id == owner.pk
    assert event.actor_username == owner.username
    assert event.actor_token.startswith("test (gvr_")
    assert event.request_id == "req-123"
    assert event.source_address == "127.0.0.1"
    assert event.before is None
    assert event.after["name"] == "churn"

    client.patch(f"/api/models/{event.object_id}/", {"description": "Churn v2."}, format="json")
    update = AuditEvent.objects.get(object_type="registry.mlmodel", action="update")
    assert update.before["description"] == "Churn."
    assert update.after["description"] == "Churn v2."

    client.delete(f"/api/models/{event.object_id}/")
    deleted = AuditEvent.objects.get(object_type="registry.mlmodel", action="delete")
    assert deleted.before["name"] == "churn"


def test_identity_changes_are_recorded(team, owner, member):
    from accounts.services import issue_token, revoke_token

    member.groups.remove(team)
    removal = AuditEvent.objects.filter(action="m2m.remove", object_type="auth.user").last()
    assert removal.object_id == str(member.pk)
    assert removal.after["names"] == [team.name]

    token, _ = issue_token(owner, name="pipeline-token")
    issued = AuditEvent.objects.filter(object_type="accounts.apitoken", action="create").last()
    assert issued.after["name"] == "pipeline-token"
    assert "digest" not in issued.after
    revoke_token(token)
    assert AuditEvent.objects.filter(object_type="accounts.apitoken", action="delete").exists()

    model = register_model(name="m1", team=team, risk_tier="minimal", description="d")
    grants = AuditEvent.objects.filter(
        object_type="guardian.groupobjectpermission", action="create"
    )
    assert grants.count() == 4
    assert {g.after["object_pk"] for g in grants} == {str(model.pk)}


def test_audit_api_for_auditors_only(chain, auditor, owner):
    client = token_client(auditor)
    body = client.get("/api/audit-events/", {"object_type": "tests.thing", "object_id": "3"}).json()
    assert body["count"] == 1
    assert body["results"][0]["after"] == {"n": 3}
    window = client.get(
        "/api/audit-events/", {"after": chain[0].created_at.isoformat(), "action": "test.event"}
    ).json()
    assert window["count"] == 6
    assert token_client(owner).get("/api/audit-events/").status_code == 403
    assert client.post("/api/audit-events/", {}).status_code == 405


@pytest.mark.postgres
def test_postgres_trigger_refuses_update_and_delete(chain):
    victim = chain[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=victim.pk).update(action="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=victim.pk).delete()
    assert AuditEvent.objects.get(pk=victim.pk).action == "test.event"


WRITER = """
import django, sys
django.setup()
from audit.services import record, record_many
for i in range(int(sys.argv[2])):
    record("test.concurrent", object_type="tests.writer", object_id=f"{sys.argv[1]}-{i}")
"""


@pytest.mark.postgres
def test_concurrent_writers_leave_one_unbroken_chain(transactional_db):
    writers, each = 6, 40
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n), str(each)],
            env=manage_env(),
            stderr=subprocess.PIPE,
        )
        for n in range(writers)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert AuditEvent.objects.filter(action="test.concurrent").count() == writers * each
    assert "chain intact" in verify()


def test_any_text_verifies_including_the_chain_markers(db):
    from audit.chain import _PREV, _SEQ

    record("test.text", object_type="tests.thing", object_id="u", after={"t": "naïve ✓ 日本"})
    record("test.text", object_type="tests.thing", object_id="m", after={"t": _SEQ, "p": _PREV})
    stored = AuditEvent.objects.filter(action="test.text").order_by("seq")
    assert [e.after for e in stored] == [{"t": "naïve ✓ 日本"}, {"t": _SEQ, "p": _PREV}]
    assert "chain intact" in verify()


def test_events_appended_together_chain_like_events_appended_alone(db):
    """record_many (one audit_append_many() call on PostgreSQL) chains its events in
    order after the head, the same hashes the verifier recomputes; text of any kind."""
    record("test.alone", object_type="tests.thing", object_id="0")
    appended = record_many(
        [
            {
                "action": "test.many",
                "object_type": "tests.thing",
                "object_id": str(n),
                "after": {"n": n, "t": "naïve ✓ 日本" if n % 2 else None},
            }
            for n in range(1, 6)
        ]  # fmt: skip
    )
    record("test.alone", object_type="tests.thing", object_id="6")
    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.object_id for e in stored[-7:]] == [str(n) for n in range(7)]
    assert [(e.pk, e.seq, e.hash) for e in appended] == [
        (e.pk, e.seq, e.hash) for e in stored[-6:-1]
    ]
    assert all(b.prev_hash == a.hash for a, b in zip(stored, stored[1:], strict=False))
    assert AuditChainHead.objects.get().last_hash == stored[-1].hash
    assert "chain intact" in verify()


def test_clearing_memberships_records_which_groups(team, other_team, owner):
    owner.groups.add(other_team)
    owner.groups.clear()
    cleared = AuditEvent.objects.filter(action="m2m.clear", object_id=str(owner.pk)).get()
    assert cleared.after["relation"] == "user_groups"
    assert cleared.after["names"] == sorted(["credit-risk", "fraud-detection", "ml-engineer"])
    assert len(cleared.after["ids"]) == 3


def test_admin_change_page_shows_audit_history(client, team):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    model = register_model(name="history-model", team=team, risk_tier="minimal", description="d")
    client.force_login(admin)
    page = client.get(f"/admin/registry/mlmodel/{model.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Audit history" in body
    assert "Object permissions" in body  # guardian's form is still the base
    assert "history-model" in body
