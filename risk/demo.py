"""Demo data: a living register on the registry's demo models. Safe to run again
(every record is looked up by its natural key first).

- loan-default (credit-risk, high tier): score drift after the bureau data
  change, above appetite but accepted by two approvers for 60 days; a fairness
  risk held low by a verified control; thresholds on the live version; version
  3 has passed its adversarial and stress evaluations but still waits for its
  human review, so the gate holds it.
- support-triage (customer-support): "refusal rate rises on long prompts",
  an emergent behaviour watched by a threshold.
- card-fraud (fraud-detection): adversaries probing the decision threshold.
"""

from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.demo import register
from audit.context import acting_as
from registry.models import MLModel
from risk import services
from risk.choices import AcceptanceStatus
from risk.models import Control, Evaluation, Risk, Threshold

RISKS = [
    {
        "model": "loan-default",
        "team": "credit-risk",
        "owner": "engineer",
        "title": "Score drift after the bureau data change",
        "category": "data-drift",
        "description": "The bureau changed its scoring bands in February; applicant "
        "features shifted and the score distribution moved.",
        "hypothesis": "PSI of the score distribution stays under 0.1 month on month.",
        "inherent_likelihood": 4,
        "inherent_impact": 4,
        "residual_likelihood": 3,
        "residual_impact": 4,
        "appetite": "medium",
        "treatment": "mitigate",
        "review_cadence_days": 30,
    },
    {
        "model": "loan-default",
        "team": "credit-risk",
        "owner": "engineer",
        "title": "Disparate impact on thin-file applicants",
        "category": "bias-fairness",
        "description": "Applicants with short credit histories are declined more often.",
        "hypothesis": "Approval-rate ratio between thin- and thick-file applicants stays "
        "above 0.8 (four-fifths rule).",
        "inherent_likelihood": 3,
        "inherent_impact": 5,
        "residual_likelihood": 1,
        "residual_impact": 4,
        "appetite": "medium",
        "treatment": "mitigate",
        "review_cadence_days": 90,
    },
    {
        "model": "support-triage",
        "team": "customer-support",
        "owner": "admin",
        "title": "Refusal rate rises on long prompts",
        "category": "emergent-behaviour",
        "description": "Tickets over 2,000 words are routed to the 'unknown' queue far "
        "more often than short ones.",
        "hypothesis": "The refusal (unknown-queue) rate on long tickets stays under 5%.",
        "inherent_likelihood": 4,
        "inherent_impact": 2,
        "residual_likelihood": 3,
        "residual_impact": 2,
        "appetite": "medium",
        "treatment": "mitigate",
        "review_cadence_days": 60,
    },
    {
        "model": "card-fraud",
        "team": "fraud-detection",
        "owner": "approver2",
        "title": "Adversaries probe the decision threshold",
        "category": "misuse",
        "description": "Fraud rings test small payments to learn the hold threshold.",
        "hypothesis": "The share of payments scored just under the threshold stays flat.",
        "inherent_likelihood": 4,
        "inherent_impact": 4,
        "residual_likelihood": 2,
        "residual_impact": 4,
        "appetite": "medium",
        "treatment": "mitigate",
        "review_cadence_days": 30,
    },
]

THRESHOLDS = [
    # (risk title, model, version, metric, comparator, warning, critical, hypothesis)
    (
        "Score drift after the bureau data change",
        "loan-default",
        "2",
        "score_psi",
        "gt",
        0.1,
        0.25,
        "PSI above 0.1 means the applicant population moved; above 0.25 the score is unreliable.",
    ),
    (
        "Disparate impact on thin-file applicants",
        "loan-default",
        "2",
        "thin_file_approval_ratio",
        "lt",
        0.85,
        0.8,
        "Below 0.8 the four-fifths rule is breached.",
    ),
    (
        "Refusal rate rises on long prompts",
        "support-triage",
        "1",
        "long_ticket_refusal_rate",
        "gt",
        0.05,
        0.1,
        "More than 5% of long tickets unrouted is a regression; 10% is an incident.",
    ),
]

EVALUATIONS = [
    # (model, version, kind, name, passed, hypothesis, criterion, metrics, reviewer)
    (
        "loan-default",
        "2",
        "adversarial",
        "tests/adversarial::test_feature_perturbation",
        True,
        "Small perturbations of income do not flip decisions.",
        "Fewer than 1% decision flips under +/-5% income noise.",
        {"flip_rate": 0.004},
        None,
    ),
    (
        "loan-default",
        "2",
        "distributional-stress",
        "tests/stress::test_recession_scenario",
        True,
        "The model stays calibrated when default rates double.",
        "Expected calibration error below 0.03 on the stressed sample.",
        {"ece": 0.021},
        None,
    ),
    (
        "loan-default",
        "2",
        "human-review",
        "Underwriter review of 200 declines",
        True,
        "Declines are explainable to the applicant.",
        "Two underwriters agree on 95% of reason codes.",
        {"agreement": 0.97},
        "board",
    ),
    (
        "loan-default",
        "3",
        "adversarial",
        "tests/adversarial::test_feature_perturbation",
        True,
        "Small perturbations of income do not flip decisions.",
        "Fewer than 1% decision flips under +/-5% income noise.",
        {"flip_rate": 0.006},
        None,
    ),
    (
        "loan-default",
        "3",
        "distributional-stress",
        "tests/stress::test_recession_scenario",
        True,
        "The model stays calibrated when default rates double.",
        "Expected calibration error below 0.03 on the stressed sample.",
        {"ece": 0.027},
        None,
    ),
    (
        "support-triage",
        "1",
        "edge-case",
        "tests/edge::test_very_long_ticket",
        False,
        "Tickets over 2,000 words are routed like short ones.",
        "Refusal rate on long tickets under 5%.",
        {"long_ticket_refusal_rate": 0.08},
        None,
    ),
]


def _version(model_name: str, label: str):
    model = MLModel.objects.filter(name=model_name).first()
    return model.versions.filter(version=label).first() if model else None


def _risks(users) -> dict[str, Risk]:
    risks = {}
    for spec in RISKS:
        spec = dict(spec)
        model = MLModel.objects.filter(name=spec.pop("model")).first()
        team = Group.objects.filter(name=spec.pop("team")).first()
        owner = users.get(spec.pop("owner"))
        if model is None or team is None or owner is None:
            continue
        risk = Risk.objects.filter(title=spec["title"], team=team).first()
        if risk is None:
            with acting_as(owner):
                risk = services.create_risk(
                    team=team, owner=owner, links={"ml_models": [model]}, **spec
                )
        risks[risk.title] = risk
    return risks


def _acceptance(risk: Risk, users) -> None:
    if risk.acceptances.exists():
        return
    engineer, first, second = users["engineer"], users["approver"], users["approver2"]
    with acting_as(engineer):
        acceptance = services.request_acceptance(
            risk,
            engineer,
            justification="A recalibrated cut-off and weekly PSI checks hold it until the "
            "April retrain on post-change bureau data.",
            expires_at=timezone.now() + timedelta(days=60),
        )
    for approver in (first, second):
        with acting_as(approver):
            acceptance = services.decide_acceptance(
                acceptance, approver, verdict="approve", comment="Agreed until the retrain."
            )
        if acceptance.status == AcceptanceStatus.ACCEPTED:
            break


def _controls(risk: Risk, owner) -> None:
    if risk.controls.exists():
        return
    with acting_as(owner):
        Control.objects.create(
            risk=risk,
            title="Thin-file applicants declined above 0.8 go to an underwriter",
            owner=owner,
            status="verified",
            evidence_url="https://wiki.example.com/credit/underwriting-review",
        )
        Control.objects.create(
            risk=risk,
            title="Monthly disparate-impact report to the board",
            owner=owner,
            status="implemented",
        )


@register(order=30)
def seed_risks(context: dict) -> None:
    users = context["users"]
    risks = _risks(users)
    drift = risks.get("Score drift after the bureau data change")
    if drift is not None:
        _acceptance(drift, users)
    fairness = risks.get("Disparate impact on thin-file applicants")
    if fairness is not None:
        _controls(fairness, users["engineer"])
    for title, model, label, metric, comparator, warning, critical, hypothesis in THRESHOLDS:
        version = _version(model, label)
        if title not in risks or version is None:
            continue
        if Threshold.objects.filter(model_version=version, metric=metric).exists():
            continue
        with acting_as(users["engineer"]):
            threshold = Threshold(
                risk=risks[title],
                model_version=version,
                metric=metric,
                comparator=comparator,
                warning_value=warning,
                critical_value=critical,
                hypothesis=hypothesis,
            )
            threshold.full_clean()
            threshold.save()
    pipeline = users["pipeline"]
    for model, label, kind, name, passed, hypothesis, criterion, metrics, reviewer in EVALUATIONS:
        version = _version(model, label)
        if (
            version is None
            or Evaluation.objects.filter(model_version=version, kind=kind, name=name).exists()
        ):
            continue
        with acting_as(pipeline):
            evaluation = Evaluation(
                model_version=version,
                kind=kind,
                name=name,
                suite=kind,
                hypothesis=hypothesis,
                success_criterion=criterion,
                metrics=metrics,
                outcome="passed" if passed else "failed",
                run_reference=f"https://ci.example.com/{model}/{label}",
                reviewer=users.get(reviewer) if reviewer else None,
                submitted_by=pipeline,
            )
            evaluation.full_clean()
            evaluation.save()
