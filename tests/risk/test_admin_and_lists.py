"""Admin pages of the register, controls by owner/member/outsider, list query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from risk.models import Evaluation, Threshold, ThresholdRecalibration
from risk.services import request_acceptance
from tests.factories import UserFactory
from tests.risk.factories import make_model, make_risk, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def register(team, owner):
    model = make_model(team, name="support-llm")
    version = make_version(model)
    risk = make_risk(team, owner, links={"ml_models": [model], "model_versions": [version]})
    threshold = Threshold.objects.create(
        risk=risk,
        model_version=version,
        metric="refusal_rate",
        comparator="gt",
        warning_value=0.05,
        critical_value=0.1,
    )
    Evaluation.objects.create(
        model_version=version, kind="scenario", name="s", outcome="passed", submitted_by=owner
    )
    request_acceptance(
        risk, owner, justification="j", expires_at=timezone.now() + timedelta(days=9)
    )
    return {"risk": risk, "threshold": threshold, "version": version}


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "name",
    [
        "riskmatrix",
        "risk",
        "control",
        "riskacceptance",
        "threshold",
        "evaluation",
        "requiredevaluation",
        "reminder",
    ],
)
def test_admin_lists_render(admin_client, register, name):
    assert admin_client.get(f"/admin/risk/{name}/", secure=True).status_code == 200


def test_admin_change_pages_show_audit_history(admin_client, register):
    page = admin_client.get(f"/admin/risk/risk/{register['risk'].pk}/change/", secure=True)
    assert page.status_code == 200
    assert b"create" in page.content


def test_admin_recalibration_needs_a_reason_and_keeps_history(admin_client, register):
    threshold = register["threshold"]
    url = f"/admin/risk/threshold/{threshold.pk}/change/"
    form = {
        "risk": threshold.risk_id,
        "model_version": threshold.model_version_id,
        "deployment": "",
        "metric": "refusal_rate",
        "comparator": "gt",
        "warning_value": "0.07",
        "critical_value": "0.12",
        "hypothesis": "",
        "recalibrations-TOTAL_FORMS": "0",
        "recalibrations-INITIAL_FORMS": "0",
        "recalibrations-MIN_NUM_FORMS": "0",
        "recalibrations-MAX_NUM_FORMS": "1000",
    }
    refused = admin_client.post(url, form, secure=True)
    assert refused.status_code == 200 and b"Say why the values change." in refused.content
    saved = admin_client.post(url, {**form, "recalibration_reason": "seasonal"}, secure=True)
    assert saved.status_code == 302
    row = ThresholdRecalibration.objects.get()
    assert (row.old_warning_value, row.new_warning_value, row.reason) == (0.05, 0.07, "seasonal")


def test_controls_by_owner_member_and_outsider(client_for, owner, member, outsider, register):
    risk = register["risk"]
    body = {
        "risk": risk.pk,
        "title": "human fallback for long prompts",
        "owner": "mark",
        "status": "planned",
    }
    created = client_for(owner).post("/api/controls/", body, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    verified = client_for(member).patch(
        f"/api/controls/{pk}/", {"status": "verified"}, format="json"
    )
    assert verified.status_code == 400 and "evidence_url" in verified.json()["fields"]
    assert (
        client_for(member)
        .patch(
            f"/api/controls/{pk}/",
            {"status": "verified", "evidence_url": "https://ci.example.com/run/9"},
            format="json",
        )
        .status_code
        == 200
    )
    assert client_for(outsider).get(f"/api/controls/{pk}/").status_code == 404
    assert client_for(outsider).post("/api/controls/", body, format="json").status_code == 400
    assert client_for(outsider).get("/api/controls/").json()["results"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/controls/",
        "/api/thresholds/",
        "/api/evaluations/",
        "/api/risk-acceptances/",
        "/api/risk-matrices/",
    ],
)
def test_list_query_counts_stay_flat(
    client_for, owner, team, register, path, django_assert_max_num_queries
):
    model = make_model(team)
    for index in range(8):
        version = make_version(model, version=str(index))
        risk = make_risk(team, owner, links={"model_versions": [version]})
        Threshold.objects.create(
            risk=risk,
            model_version=version,
            metric="m",
            comparator="gt",
            warning_value=1,
            critical_value=2,
        )
        Evaluation.objects.create(
            model_version=version, kind="scenario", name="s", outcome="failed", submitted_by=owner
        )
        request_acceptance(
            risk, owner, justification="j", expires_at=timezone.now() + timedelta(days=9)
        )
    client = client_for(owner)
    with django_assert_max_num_queries(12):
        response = client.get(path)
    assert response.status_code == 200


def test_required_evaluations_and_reminders_api(client_for, owner, outsider, team, register):
    from risk.tasks import review_reminders

    required = client_for(owner).get("/api/required-evaluations/?risk_tier=high").json()
    assert sorted(r["kind"] for r in required["results"]) == [
        "adversarial",
        "distributional-stress",
        "human-review",
    ]
    assert (
        client_for(owner)
        .post(
            "/api/required-evaluations/",
            {"risk_tier": "minimal", "kind": "scenario"},
            format="json",
        )
        .status_code
        == 403
    )
    risk = register["risk"]
    risk.next_review_date = timezone.localdate() - timedelta(days=1)
    risk.save(update_fields=["next_review_date"])
    review_reminders.delay().get()
    mine = client_for(owner).get("/api/risk-reminders/").json()["results"]
    assert [(r["risk"], r["kind"]) for r in mine] == [(risk.pk, "review-overdue")]
    assert client_for(outsider).get("/api/risk-reminders/").json()["results"] == []


def test_expiring_acceptances_filter(client_for, owner, register, admin_client):
    from risk.models import RiskAcceptance

    RiskAcceptance.objects.update(status="accepted")
    assert client_for(owner).get("/api/risk-acceptances/?expiring=true").json()["count"] == 1
    assert client_for(owner).get("/api/risk-acceptances/?expiring=false").json()["count"] == 0
    page = admin_client.get("/admin/risk/riskacceptance/?expiring=yes", secure=True)
    assert page.status_code == 200
