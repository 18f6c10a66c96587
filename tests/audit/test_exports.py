"""Period exports: asked over the API, built by the task, downloaded and verified offline."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent, AuditExport
from govreg_verify.bundle import verify_bundle
from govreg_verify.events import event_hash
from tests.audit.conftest import PUBLIC_PEM, append_events
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def ask(client, capture, **body):
    with capture(execute=True):
        response = client.post("/api/audit-exports/", body, format="json")
    return response


def test_an_auditor_exports_a_period_and_it_verifies_offline(
    signing_key, auditor, tmp_path, django_capture_on_commit_callbacks
):
    start = timezone.now()
    append_events(30)
    client = token_client(auditor)
    response = ask(
        client,
        django_capture_on_commit_callbacks,
        after=start.isoformat(),
        before=(timezone.now() + timedelta(minutes=1)).isoformat(),
    )
    assert response.status_code == 202, response.content
    export_id = response.json()["id"]
    status = client.get(f"/api/audit-exports/{export_id}/").json()
    assert (status["status"], status["percent"]) == ("done", 100)
    # the token's issue and the export's own request are events of the period too
    expected = AuditEvent.objects.filter(created_at__gte=start).count()
    assert status["events"] == expected == 30 + 2
    assert AuditEvent.objects.filter(action="audit.export", object_id=str(export_id)).exists()

    download = client.get(status["download"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    assert hashlib.sha256(data).hexdigest() == status["sha256"]
    path = tmp_path / "export.zip"
    path.write_bytes(data)
    report = verify_bundle(path, public_key=PUBLIC_PEM)
    assert report.ok, report.failure
    assert report.events == expected
    assert report.kind == "audit-export"
    assert AuditEvent.objects.filter(action="audit.export.download").count() == 1


def test_an_export_of_one_object_holds_only_its_events(
    signing_key, auditor, tmp_path, django_capture_on_commit_callbacks
):
    start = timezone.now()
    append_events(12)
    client = token_client(auditor)
    export_id = ask(
        client,
        django_capture_on_commit_callbacks,
        after=start.isoformat(),
        before=(timezone.now() + timedelta(minutes=1)).isoformat(),
        object_type="tests.thing",
        object_id="2",
    ).json()["id"]
    export = AuditExport.objects.get(pk=export_id)
    assert export.events == 4
    path = tmp_path / "one.zip"
    path.write_bytes(b"".join(client.get(f"/api/audit-exports/{export_id}/download")))
    report = verify_bundle(path, public_key=PUBLIC_PEM)
    assert report.ok, report.failure
    assert report.events == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"before": "2026-01-01T00:00:00Z"}, "after"),
        ({"after": "2026-01-01T00:00:00Z"}, "before"),
        ({"after": "soon", "before": "2026-01-01T00:00:00Z"}, "after"),
        ({"after": "2026-02-01T00:00:00Z", "before": "2026-01-01T00:00:00Z"}, "before"),
        (
            {"after": "2026-01-01T00:00:00Z", "before": "2026-02-01T00:00:00Z", "object_id": "1"},
            "object_type",
        ),
    ],
)
def test_bad_export_requests_are_400_naming_the_field(
    signing_key, auditor, body, field, django_capture_on_commit_callbacks
):
    response = ask(token_client(auditor), django_capture_on_commit_callbacks, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not AuditExport.objects.exists()


def test_exports_are_for_trail_readers_and_download_waits_for_done(signing_key, auditor, owner):
    assert token_client(owner).get("/api/audit-exports/").status_code == 403
    export = AuditExport.objects.create(
        after=timezone.now() - timedelta(days=1), before=timezone.now(), created_at=timezone.now()
    )
    response = token_client(auditor).get(f"/api/audit-exports/{export.pk}/download")
    assert response.status_code == 409
    assert "queued" in response.json()["message"]


def test_events_read_from_the_api_re_verify_offline(signing_key, auditor):
    append_events(3)
    events = token_client(auditor).get("/api/audit-events/", {"action": "test.event"}).json()
    assert events["count"] == 3
    for event in events["results"]:
        assert event_hash(event) == event["hash"]
        assert hashlib.sha256(event["canonical"].encode()).hexdigest() == event["hash"]
