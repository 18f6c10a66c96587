"""Thresholds: classification of observed values and audited recalibration."""

import math

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from risk.models import Threshold, ThresholdRecalibration
from risk.services import recalibrate_threshold
from tests.risk.factories import make_model, make_risk, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(team):
    return make_version(make_model(team))


@pytest.fixture
def risk(team, owner):
    return make_risk(team, owner)


def threshold(risk, version, comparator, warning, critical, metric="refusal_rate"):
    item = Threshold(
        risk=risk,
        model_version=version,
        metric=metric,
        comparator=comparator,
        warning_value=warning,
        critical_value=critical,
        hypothesis="refusals above 5% mean long prompts are mishandled",
    )
    item.full_clean()
    item.save()
    return item


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        ("gt", 0.04, "benign"),
        ("gt", 0.05, "benign"),
        ("gt", 0.06, "questionable"),
        ("gt", 0.10, "questionable"),
        ("gt", 0.11, "critical"),
        ("gte", 0.05, "questionable"),
        ("gte", 0.10, "critical"),
        ("gte", 0.049, "benign"),
    ],
)
def test_classify_when_above_is_bad(risk, version, comparator, value, expected):
    item = threshold(risk, version, comparator, 0.05, 0.10)
    assert item.classify(value) == expected


@pytest.mark.parametrize(
    ("comparator", "value", "expected"),
    [
        ("lt", 0.95, "benign"),
        ("lt", 0.90, "benign"),
        ("lt", 0.89, "questionable"),
        ("lt", 0.79, "critical"),
        ("lte", 0.90, "questionable"),
        ("lte", 0.80, "critical"),
    ],
)
def test_classify_when_below_is_bad(risk, version, comparator, value, expected):
    item = threshold(risk, version, comparator, 0.90, 0.80, metric="accuracy")
    assert item.classify(value) == expected


def test_classify_nan_and_non_numbers(risk, version):
    item = threshold(risk, version, "gt", 1, 2)
    assert item.classify(math.nan) == "questionable"
    with pytest.raises(TypeError):
        item.classify("high")


def test_inverted_values_are_refused(risk, version):
    with pytest.raises(ValidationError) as caught:
        threshold(risk, version, "gt", 0.10, 0.05)
    assert "critical_value" in caught.value.message_dict
    with pytest.raises(ValidationError):
        threshold(risk, version, "lt", 0.80, 0.90, metric="accuracy")


def test_a_threshold_watches_a_version_or_a_deployment(risk):
    item = Threshold(risk=risk, metric="m", comparator="gt", warning_value=1, critical_value=2)
    with pytest.raises(ValidationError):
        item.full_clean()


def test_recalibration_keeps_old_values_who_and_why(risk, version, owner):
    item = threshold(risk, version, "gt", 0.05, 0.10)
    before = AuditEvent.objects.count()
    updated = recalibrate_threshold(
        item,
        warning=0.07,
        critical=0.12,
        user=owner,
        reason="post-incident review #4: 5% fired on benign traffic",
        source="PIR-4",
    )
    assert (updated.warning_value, updated.critical_value) == (0.07, 0.12)
    row = ThresholdRecalibration.objects.get(threshold=item)
    assert (row.old_warning_value, row.old_critical_value) == (0.05, 0.10)
    assert (row.new_warning_value, row.new_critical_value) == (0.07, 0.12)
    assert row.changed_by == owner and row.changed_by_username == owner.username
    assert row.source_label == "PIR-4"
    decision = AuditEvent.objects.filter(action="risk.threshold.recalibrate").get()
    assert decision.after["old"] == {"warning": 0.05, "critical": 0.10}
    assert AuditEvent.objects.count() > before
    assert updated.classify(0.11) == "questionable"


def test_recalibration_source_may_be_a_record(risk, version, owner):
    item = threshold(risk, version, "gt", 0.05, 0.10)
    recalibrate_threshold(item, warning=0.06, critical=0.2, user=owner, reason="r", source=risk)
    row = item.recalibrations.get()
    assert (row.source_type, row.source_id) == ("risk.risk", str(risk.pk))


def test_recalibration_needs_a_reason_and_valid_values(risk, version, owner):
    item = threshold(risk, version, "gt", 0.05, 0.10)
    with pytest.raises(ValidationError):
        recalibrate_threshold(item, warning=0.07, critical=0.12, user=owner, reason=" ")
    with pytest.raises(ValidationError):
        recalibrate_threshold(item, warning=0.2, critical=0.1, user=owner, reason="oops")
    item.refresh_from_db()
    assert (item.warning_value, item.critical_value) == (0.05, 0.10)
    assert not ThresholdRecalibration.objects.exists()


def test_api_values_change_only_by_recalibration(
    client_for, owner, member, outsider, risk, version
):
    client = client_for(owner)
    created = client.post(
        "/api/thresholds/",
        {
            "risk": risk.pk,
            "model_version": version.pk,
            "metric": "refusal_rate",
            "comparator": "above",
            "warning_value": 0.05,
            "critical_value": 0.1,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["comparator"] == "gt"
    pk = created.json()["id"]
    patched = client.patch(f"/api/thresholds/{pk}/", {"warning_value": 0.2}, format="json")
    assert patched.status_code == 400
    assert "recalibrate" in patched.json()["fields"]["warning_value"][0]
    recal = client_for(member).post(
        f"/api/thresholds/{pk}/recalibrate/",
        {"warning_value": 0.06, "critical_value": 0.12, "reason": "seasonal traffic"},
        format="json",
    )
    assert recal.status_code == 200, recal.json()
    assert recal.json()["recalibrations"][0]["old_warning_value"] == 0.05
    assert recal.json()["recalibrations"][0]["changed_by"] == member.username
    assert (
        client_for(outsider)
        .post(
            f"/api/thresholds/{pk}/recalibrate/",
            {"warning_value": 1, "critical_value": 2, "reason": "x"},
            format="json",
        )
        .status_code
        == 404
    )
    assert (
        client.get(f"/api/thresholds/{pk}/classify/?value=0.07").json()["classification"]
        == "questionable"
    )
    assert client.get(f"/api/thresholds/{pk}/classify/?value=abc").status_code == 400


def test_api_refuses_another_teams_version(client_for, owner, risk, other_team):
    foreign = make_version(make_model(other_team))
    response = client_for(owner).post(
        "/api/thresholds/",
        {
            "risk": risk.pk,
            "model_version": foreign.pk,
            "metric": "m",
            "comparator": "gt",
            "warning_value": 1,
            "critical_value": 2,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["fields"]["model_version"][0]
