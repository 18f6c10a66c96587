"""A report of thousands of test cases is one insert and one audit event: the audit
chain's lock is held for one append, not one per test case, and the event pins every
row it stored (ids and a digest of their snapshots)."""

import pytest

from audit.models import AuditEvent
from audit.tracking import rows_digest
from risk.models import Evaluation
from tests.risk.factories import make_model, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(team):
    return make_version(make_model(team, name="support-llm"), version="7")


def url(version):
    return f"/api/model-versions/{version.pk}/evaluations"


def junit(cases: int) -> bytes:
    rows = []
    for n in range(cases):
        outcome = '<failure message="leaked"/>' if n % 10 == 0 else ""
        rows.append(f'<testcase classname="adv" name="case_{n}" time="0.01">{outcome}</testcase>')
    return (
        '<testsuites><testsuite name="adversarial"><properties>'
        '<property name="kind" value="adversarial"/></properties>'
        + "".join(rows)
        + "</testsuite></testsuites>"
    ).encode()


def test_a_report_of_5000_cases_is_one_audit_event_naming_every_row(client_for, owner, version):
    client = client_for(owner)
    before = AuditEvent.objects.count()

    answer = client.post(
        url(version) + "?run_reference=ci-9", data=junit(5000), content_type="application/xml"
    )

    assert answer.status_code == 201, answer.json()
    assert len(answer.json()) == 5000
    stored = Evaluation.objects.filter(model_version=version)
    assert stored.count() == 5000
    assert stored.filter(passed=True).count() == 4500
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action="evaluation.report")
    assert (event.object_type, event.object_id) == ("registry.modelversion", str(version.pk))
    assert event.after["count"] == 5000
    assert event.after["outcomes"] == {"failed": 500, "passed": 4500}
    assert event.after["run_references"] == ["ci-9"]
    assert event.after["ids"] == sorted(stored.values_list("pk", flat=True))
    assert event.after["rows_sha256"] == rows_digest(stored)


def test_a_json_list_is_one_report_too(client_for, owner, version):
    body = [{"kind": "scenario", "name": f"s{n}", "passed": n % 2 == 0} for n in range(40)]

    answer = client_for(owner).post(url(version), body, format="json")

    assert answer.status_code == 201, answer.json()
    assert [row["passed"] for row in answer.json()][:2] == [True, False]
    event = AuditEvent.objects.get(action="evaluation.report")
    assert event.after["source"] == "json" and event.after["count"] == 40
    assert not AuditEvent.objects.filter(object_type="risk.evaluation").exists()


def test_a_report_with_one_bad_case_writes_nothing_and_no_audit_event(client_for, owner, version):
    xml = junit(20).replace(b'name="case_7"', b'name=""')
    client = client_for(owner)
    before = AuditEvent.objects.count()

    answer = client.post(url(version), data=xml, content_type="application/xml")

    assert answer.status_code == 400
    assert Evaluation.objects.count() == 0
    assert AuditEvent.objects.count() == before
