"""Dataset version status and notes: who may change them, the audit trail, the signal."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied

from audit.models import AuditEvent
from lineage.choices import VersionStatus
from lineage.models import DatasetVersion
from lineage.services import change_dataset_version, ingest_event
from lineage.signals import dataset_version_status_changed
from tests.conftest import token_client
from tests.factories import UserFactory
from tests.lineage.factories import dataset, run_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(db):
    ingest_event(run_event(outputs=[dataset("customers", version="md5:" + "c" * 32)]))
    return DatasetVersion.objects.get()


def url(version):
    return f"/api/lineage/dataset-versions/{version.pk}"


@pytest.fixture
def received():
    calls = []

    def receiver(sender, dataset_version, old_status, new_status, actor, **kwargs):
        calls.append((dataset_version.pk, old_status, new_status, actor.username))

    dataset_version_status_changed.connect(receiver, dispatch_uid="test-receiver")
    yield calls
    dataset_version_status_changed.disconnect(dispatch_uid="test-receiver")


def test_an_engineer_revokes_a_version_audited_and_signalled(member, version, received):
    api = token_client(member)
    response = api.patch(
        url(version),
        {"status": "revoked", "consent_notes": "Consent withdrawn on 2026-01-04 (ticket 812)."},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    version.refresh_from_db()
    assert version.status == VersionStatus.REVOKED
    event = AuditEvent.objects.get(action="lineage.dataset_version.status")
    assert event.object_id == str(version.pk)
    assert event.before["status"] == "active"
    assert event.after["consent_notes"].startswith("Consent withdrawn")
    assert event.actor_username == "mark"
    assert received == [(version.pk, "active", "revoked", "mark")]


def test_notes_alone_are_audited_without_a_signal(member, version, received):
    api = token_client(member)
    response = api.patch(url(version), {"licence_notes": "CC BY 4.0"}, format="json")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="lineage.dataset_version.notes").count() == 1
    assert received == []


def test_the_board_reads_but_may_not_quarantine(board_member, version):
    api = token_client(board_member)
    assert api.get(url(version)).status_code == 200
    response = api.patch(url(version), {"status": "quarantined"}, format="json")
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE


@pytest.mark.parametrize("who", ["auditor", "pipeline_user"])
def test_auditor_and_pipeline_may_read_but_not_change(request, who, version):
    api = token_client(request.getfixturevalue(who))
    assert api.get(url(version)).status_code == 200
    assert api.patch(url(version), {"status": "revoked"}, format="json").status_code == 403
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE


def test_the_model_permission_is_enough(version):
    steward = UserFactory(username="stella")
    steward.user_permissions.add(Permission.objects.get(codename="change_datasetversion"))
    response = token_client(steward).patch(url(version), {"status": "revoked"}, format="json")
    assert response.status_code == 200


def test_unknown_status_is_400_naming_the_field(member, version):
    response = token_client(member).patch(url(version), {"status": "deleted"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_identity_fields_are_read_only(member, version):
    api = token_client(member)
    api.patch(url(version), {"version": "md5:other", "content_hash": "x"}, format="json")
    version.refresh_from_db()
    assert version.version == "md5:" + "c" * 32


def test_anonymous_is_401(client, version):
    assert client.get(url(version)).status_code == 401


def test_a_failing_receiver_rolls_the_change_back(member, version):
    def refuse(**kwargs):
        raise RuntimeError("registry could not block deployments")

    dataset_version_status_changed.connect(refuse, dispatch_uid="refuse")
    try:
        with pytest.raises(RuntimeError):
            change_dataset_version(version, actor=member, status="revoked")
    finally:
        dataset_version_status_changed.disconnect(dispatch_uid="refuse")
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE
    assert not AuditEvent.objects.filter(action="lineage.dataset_version.status").exists()


def test_service_refuses_unauthorised_users(auditor, version):
    with pytest.raises(PermissionDenied):
        change_dataset_version(version, actor=auditor, status="revoked")


def test_filter_by_status(member, version):
    change_dataset_version(version, actor=member, status="quarantined")
    api = token_client(member)
    assert api.get("/api/lineage/dataset-versions", {"status": "quarantined"}).json()["count"] == 1
    assert api.get("/api/lineage/dataset-versions", {"status": "active"}).json()["count"] == 0


def test_admin_changes_go_through_the_service(client, version):
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    response = client.post(
        f"/admin/lineage/datasetversion/{version.pk}/change/",
        {
            "status": "revoked",
            "privacy_notes": "",
            "consent_notes": "withdrawn",
            "licence_notes": "",
        },
        secure=True,
    )
    assert response.status_code == 302, response.content[:500]
    version.refresh_from_db()
    assert version.status == VersionStatus.REVOKED
    assert AuditEvent.objects.filter(action="lineage.dataset_version.status").count() == 1


def test_metrics_count_versions_by_status(member, version, settings):
    from django.test import Client

    settings.GOVREG_METRICS_TOKEN = None
    change_dataset_version(version, actor=member, status="quarantined")
    text = Client().get("/metrics", secure=True).content.decode()
    assert 'govreg_dataset_versions{status="quarantined"} 1.0' in text
    assert 'govreg_dataset_versions{status="active"} 0.0' in text
    assert 'govreg_lineage_events{kind="RunEvent"} 1.0' in text
