"""The demo story is one coherent history, told through the services, safely twice."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts import demo as accounts_demo
from audit.models import AuditEvent
from lineage.models import DatasetVersion, LineageEvent
from registry import services
from registry.choices import DeploymentState, RequestKind, RequestOutcome, RequestStatus
from registry.demo import BUREAU, LAKE, REVOKED_EXTRACT, md5
from registry.gate import decisions
from registry.models import (
    Deployment,
    DeploymentRequest,
    ImpactNotification,
    MLModel,
    ModelVersion,
)

# Transactional: each chapter commits, so what runs on commit (the impact notice) runs
# at the chapter's moment, as it does in seed_demo.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def story():
    return accounts_demo.run_all()


def counts():
    return (
        MLModel.objects.count(),
        ModelVersion.objects.count(),
        Deployment.objects.count(),
        DeploymentRequest.objects.count(),
        LineageEvent.objects.count(),
        ImpactNotification.objects.count(),
        AuditEvent.objects.count(),
    )


def test_five_models_of_three_teams(story):
    assert sorted(MLModel.objects.values_list("name", flat=True)) == [
        "account-takeover",
        "card-fraud",
        "credit-limit",
        "loan-default",
        "support-triage",
    ]
    assert set(MLModel.objects.values_list("team__name", flat=True)) == {
        "credit-risk",
        "fraud-detection",
        "customer-support",
    }
    assert [m.name for m in MLModel.objects.all() if not m.card_complete] == ["account-takeover"]
    live = {
        (d.model.name, d.environment.name): d.model_version.version
        for d in Deployment.objects.filter(state=DeploymentState.LIVE)
    }
    assert live == {
        ("loan-default", "production"): "1",
        ("loan-default", "staging"): "3",
        ("credit-limit", "production"): "2",
        ("credit-limit", "staging"): "2",
        ("card-fraud", "production"): "2",
        ("card-fraud", "staging"): "2",
        ("account-takeover", "staging"): "1",
        ("support-triage", "production"): "1",
        ("support-triage", "staging"): "1",
    }


def test_no_deployment_precedes_its_version_or_its_approvals(story):
    start = story["now"] - timedelta(days=accounts_demo.STORY_DAYS)
    for deployment in Deployment.objects.select_related("model_version__training_run"):
        version = deployment.model_version
        assert start <= version.created_at <= deployment.deployed_at <= story["now"], deployment
        assert version.training_run.ended_at <= version.created_at, version
        if deployment.state == DeploymentState.LIVE:
            assert deployment.ended_at is None, deployment
        else:
            assert deployment.deployed_at < deployment.ended_at <= story["now"], deployment
        if deployment.replaced_id:
            assert deployment.replaced.ended_at == deployment.deployed_at
            assert deployment.replaced.state != DeploymentState.LIVE


def test_production_is_reached_only_through_approved_requests(story):
    production = Deployment.objects.filter(environment__name="production")
    assert production.count() == 8
    for deployment in production.select_related("deployment_request", "model_version__model"):
        request = deployment.deployment_request
        assert request is not None, deployment
        assert request.status == RequestStatus.APPROVED
        assert request.outcome == RequestOutcome.DEPLOYED
        approvals = [a for a in request.approvals.all() if a.lapsed_at is None]
        assert approvals, deployment
        conflicts = decisions.conflicted_users(deployment.model_version, request.requested_by_id)
        for approval in approvals:
            assert approval.comment
            assert approval.approver_id not in conflicts
            assert request.created_at <= approval.created_at <= deployment.deployed_at
        assert request.required and all(item["missing"] == 0 for item in request.required)
        needed = sum(item["count"] for item in request.required)
        assert len({a.approver_id for a in approvals}) >= needed >= 1
        if request.kind == RequestKind.DEPLOY and deployment.model.risk_tier == "high":
            assert needed >= 2


def test_the_revoked_extract_no_longer_serves_anywhere(story):
    revoked = DatasetVersion.objects.get(
        dataset__namespace__name=LAKE, dataset__name=BUREAU, version=md5(REVOKED_EXTRACT)
    )
    assert revoked.status == "revoked"
    found = services.impact(revoked)
    assert sorted(str(v) for v in found.model_versions) == ["credit-limit@1", "loan-default@2"]
    assert {v.status for v in found.model_versions} == {"retired"}
    assert list(found.deployments) == []
    assert [str(f) for f in found.feature_versions] == ["applicant-debt-ratio@1"]
    # credit-risk was told at once, while credit-limit@1 still served
    notice = ImpactNotification.objects.get()
    assert notice.team.name == "credit-risk"
    revoked_at = story["now"] - timedelta(days=12)
    assert revoked_at <= notice.sent_at < revoked_at + timedelta(minutes=1)
    [message] = [m for m in mail.outbox if "revoked" in m.body]
    assert "credit-limit@1 in production" in message.body
    for deployment in Deployment.objects.filter(state=DeploymentState.LIVE):
        statuses = {dv.status for dv in services.training_data(deployment.model_version)}
        assert not statuses & {"revoked", "quarantined"}, deployment


def test_the_gate_verdicts_the_story_promises(story):
    loan3 = ModelVersion.objects.get(model__name="loan-default", version="3")
    assert services.training_data_verdict(loan3).complete
    ato = ModelVersion.objects.get(model__name="account-takeover", version="1")
    assert not services.training_data_verdict(ato).complete
    requests = {
        (r.model_version.model.name, r.environment.name): r
        for r in DeploymentRequest.objects.filter(
            created_at__gte=timezone.now() - timedelta(days=4)
        )
    }
    staging = requests[("support-triage", "staging")]
    assert staging.status == RequestStatus.APPROVED and staging.outcome == ""
    assert requests[("account-takeover", "production")].status == RequestStatus.DENIED
    pending = requests[("loan-default", "production")]
    assert pending.status == RequestStatus.PENDING
    assert [a.approver.username for a in pending.approvals.all()] == ["approver"]


def test_the_story_is_told_once_and_the_audit_chain_holds(story):
    first = counts()
    accounts_demo.run_all()
    assert counts() == first
    accounts_demo.run_all(now=timezone.now() + timedelta(days=3))  # told again days later
    assert counts() == first
    assert len([m for m in mail.outbox if "revoked" in m.body]) == 1
    call_command("verify_audit")


def test_a_database_holding_other_data_is_refused_with_a_message():
    from django.contrib.auth.models import Group
    from django.core.management.base import CommandError

    from registry.demo import run

    accounts_demo.seed_users()
    other = run("credit.train_loan_default", "an-earlier-demo", 1)
    loan = services.register_model(
        name="loan-default",
        team=Group.objects.get(name="credit-risk"),
        risk_tier="high",
        description="Someone else's model of the same name.",
    )
    services.register_version(
        model=loan,
        version="1",
        artifact_uri="s3://elsewhere/model.tar.gz",
        artifact_digest="sha256:" + "0" * 64,
        training_run=other,
    )
    with pytest.raises(CommandError, match="make clean"):
        call_command("seed_demo", "--quiet-story")
