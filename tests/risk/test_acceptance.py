"""Risk acceptance: a decision right with approvals; expiry reopens the risk."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.roles import Role
from audit.models import AuditEvent
from risk import services
from risk.checks import appetite_breaches
from risk.models import Reminder, RiskAcceptance
from risk.tasks import expire_acceptances
from tests.factories import UserFactory
from tests.risk.factories import make_model, make_risk, make_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def approver(team):
    return UserFactory(username="ada", groups=[team, Role.APPROVER])


@pytest.fixture
def model(team):
    return make_model(team, risk_tier="limited", name="support-llm")


@pytest.fixture
def risk(team, owner, model):
    # residual high (4 x 3) against a medium appetite
    return make_risk(
        team,
        owner,
        residual_likelihood=4,
        residual_impact=3,
        appetite="medium",
        links={"ml_models": [model]},
    )


def request(risk, user, days=30):
    return services.request_acceptance(
        risk,
        user,
        justification="compensating human review until the fix ships",
        expires_at=timezone.now() + timedelta(days=days),
    )


def test_an_approver_of_the_team_accepts(risk, member, approver):
    acceptance = request(risk, member)
    assert acceptance.status == "requested"
    accepted = services.decide_acceptance(acceptance, approver, verdict="approve", comment="ok")
    assert accepted.status == "accepted" and accepted.decided_by == approver
    risk.refresh_from_db()
    assert (risk.treatment, risk.status) == ("accept", "accepted")
    assert AuditEvent.objects.filter(action="risk.accept", object_id=str(risk.pk)).exists()
    assert accepted.approvals.get().roles == [Role.APPROVER]


def test_who_may_not_accept(risk, owner, member, outsider, other_team, approver):
    acceptance = request(risk, approver)
    # no approver role
    with pytest.raises(PermissionDenied):
        services.decide_acceptance(acceptance, member, verdict="approve")
    # an approver of another team holds no approve right on this model
    foreign = UserFactory(username="fred", groups=[other_team, Role.APPROVER])
    with pytest.raises(PermissionDenied):
        services.decide_acceptance(acceptance, foreign, verdict="approve")
    # separation of duties: whoever asked may not decide
    with pytest.raises(PermissionDenied) as caught:
        services.decide_acceptance(acceptance, approver, verdict="approve")
    assert "Separation of duties" in str(caught.value)
    acceptance.refresh_from_db()
    assert acceptance.status == "requested"


def test_high_tier_needs_two_approvers(team, owner, member, approver):
    model = make_model(team, risk_tier="high")
    risk = make_risk(
        team,
        owner,
        residual_likelihood=5,
        residual_impact=5,
        links={"model_versions": [make_version(model)]},
    )
    acceptance = request(risk, member)
    half = services.decide_acceptance(acceptance, approver, verdict="approve")
    assert half.status == "requested"
    assert services.acceptance_tally(half).missing == [
        f"1 more approver (2 required) for model {model.name}"
    ]
    second = UserFactory(username="bea", groups=[team, Role.APPROVER])
    assert services.decide_acceptance(acceptance, second, verdict="approve").status == "accepted"


def test_rejection_needs_a_reason_and_ends_the_request(risk, member, approver):
    acceptance = request(risk, member)
    with pytest.raises(ValidationError):
        services.decide_acceptance(acceptance, approver, verdict="reject")
    rejected = services.decide_acceptance(
        acceptance, approver, verdict="reject", comment="fix it instead"
    )
    assert rejected.status == "rejected"
    risk.refresh_from_db()
    assert risk.treatment == "open"


def test_one_live_acceptance_per_risk(risk, member):
    request(risk, member)
    with pytest.raises(ValidationError):
        request(risk, member)


def test_expiry_reopens_the_risk_and_tells_the_owner_once(risk, owner, member, approver):
    acceptance = services.decide_acceptance(
        request(risk, member, days=10), approver, verdict="approve"
    )
    assert acceptance.is_valid()
    # the gate check sees it as valid now, and as lapsed once time has moved past expiry
    version = make_version(risk.ml_models.get())
    assert appetite_breaches(version) == []
    later = acceptance.expires_at + timedelta(seconds=1)
    lazily = appetite_breaches(version, now=later)
    assert len(lazily) == 1 and f"acceptance #{acceptance.pk} expired" in lazily[0]

    assert services.expire_acceptances(now=acceptance.expires_at - timedelta(seconds=1)) == []
    assert expire_acceptances.delay(later.isoformat()).get()["expired"] == [acceptance.pk]
    acceptance.refresh_from_db()
    risk.refresh_from_db()
    assert acceptance.status == "expired"
    assert (risk.treatment, risk.status) == ("open", "open")
    assert AuditEvent.objects.filter(action="risk.reopen", object_id=str(risk.pk)).exists()
    # running again changes nothing and sends nothing more
    assert expire_acceptances.delay(later.isoformat()).get()["expired"] == []
    expired_mail = [m for m in mail.outbox if "expired" in m.subject]
    assert len(expired_mail) == 1 and expired_mail[0].to == [owner.email]
    assert Reminder.objects.filter(kind="acceptance-expired").count() == 1


def test_acceptances_about_to_expire_are_announced_once(risk, owner, member, approver):
    acceptance = services.decide_acceptance(
        request(risk, member, days=5), approver, verdict="approve"
    )
    assert expire_acceptances.delay().get() == {"expired": [], "expiring_notices": 1}
    assert expire_acceptances.delay().get() == {"expired": [], "expiring_notices": 0}
    assert [m.subject for m in mail.outbox] == [
        f"[govreg] Acceptance of risk {risk.title!r} expires on "
        f"{timezone.localdate(acceptance.expires_at).isoformat()}"
    ]


def test_revoking_reopens(risk, member, approver):
    acceptance = services.decide_acceptance(request(risk, member), approver, verdict="approve")
    services.revoke_acceptance(acceptance, approver, reason="the fix shipped early")
    risk.refresh_from_db()
    assert (risk.treatment, risk.status) == ("open", "open")
    assert RiskAcceptance.objects.get().status == "revoked"


def test_acceptance_through_the_api(client_for, risk, member, outsider, approver):
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    asked = client_for(member).post(
        f"/api/risks/{risk.pk}/acceptances/",
        {"justification": "until the fix ships", "expires_at": expires},
        format="json",
    )
    assert asked.status_code == 201, asked.json()
    pk = asked.json()["id"]
    assert asked.json()["requested_by"] == member.username
    again = client_for(member).post(
        f"/api/risks/{risk.pk}/acceptances/",
        {"justification": "again", "expires_at": expires},
        format="json",
    )
    assert again.status_code == 400
    past = client_for(member).post(
        f"/api/risks/{risk.pk}/acceptances/",
        {"justification": "x", "expires_at": "2020-01-01T00:00:00Z"},
        format="json",
    )
    assert past.status_code == 400
    assert (
        client_for(outsider)
        .post(f"/api/risk-acceptances/{pk}/approve/", {}, format="json")
        .status_code
        == 404
    )
    refused = client_for(member).post(f"/api/risk-acceptances/{pk}/approve/", {}, format="json")
    assert refused.status_code == 403
    approved = client_for(approver).post(
        f"/api/risk-acceptances/{pk}/approve/", {"comment": "agreed"}, format="json"
    )
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "accepted" and approved.json()["valid"] is True
    assert approved.json()["approvals"][0]["approver"] == approver.username
    assert client_for(member).get(f"/api/risks/{risk.pk}/").json()["treatment"] == "accept"
    assert len(client_for(member).get(f"/api/risks/{risk.pk}/acceptances/").json()) == 1
