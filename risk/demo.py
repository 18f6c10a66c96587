"""Demo story, the risk register's chapters, on the registry's demo models.

- loan-default (credit-risk, high tier): "Score drift when the bureau data
  changes", within appetite until the drift incident's review re-rates it
  (day 37); then above appetite and accepted by approver and approver2 for
  60 days (day 36). A fairness risk held low by a verified control.
  Thresholds on every version that served in production; the CI pipeline's
  adversarial and stress evaluations and the underwriters' human review for
  @1 and @2; @3 has passed its adversarial and stress evaluations but still
  waits for its human review, so the gate holds it.
- credit-limit (limited tier): its edge-case evaluations.
- card-fraud (fraud-detection): adversaries probing the decision threshold.
- support-triage (customer-support): "Refusal rate rises on long prompts", an
  emergent behaviour watched by a threshold, its review now overdue.
- red team (days 27 to 25): credit-risk's exercise on loan-default@3 finds that
  crafted income strings inflate the score (high): a new risk, and a red-team test
  that reproduces it in CI. @3's production request (day 1) is held by the finding
  until the fix's red-team test passes (half a day ago); it then waits only for its
  human review and a second approver.

Every record is looked up by its natural key first, so telling it again adds
nothing.
"""

from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.demo import as_user, chapter, later
from registry.models import MLModel, ModelVersion
from risk import redteam, services
from risk.choices import AcceptanceStatus, ExerciseStatus, FindingSeverity
from risk.models import (
    DEFAULT_SUCCESS_CRITERION,
    Control,
    Evaluation,
    RedTeamExercise,
    Risk,
    Threshold,
)

DRIFT = "Score drift when the bureau data changes"
FAIRNESS = "Disparate impact on thin-file applicants"
REFUSALS = "Refusal rate rises on long prompts"
PROBING = "Adversaries probe the decision threshold"

RISKS = {
    DRIFT: {
        "model": "loan-default",
        "team": "credit-risk",
        "owner": "engineer",
        "category": "data-drift",
        "description": "The bureau revises its scoring bands without notice; applicant "
        "features shift and the score distribution moves.",
        "hypothesis": "PSI of the score distribution stays under 0.1 month on month.",
        "inherent_likelihood": 4,
        "inherent_impact": 4,
        "residual_likelihood": 2,
        "residual_impact": 4,
        "appetite": "medium",
        "treatment": "mitigate",
        "review_cadence_days": 30,
    },
    FAIRNESS: {
        "model": "loan-default",
        "team": "credit-risk",
        "owner": "engineer",
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
    PROBING: {
        "model": "card-fraud",
        "team": "fraud-detection",
        "owner": "approver2",
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
    REFUSALS: {
        "model": "support-triage",
        "team": "customer-support",
        "owner": "approver3",
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
}

# metric -> (risk, comparator, warning, critical, hypothesis)
THRESHOLDS = {
    "score_psi": (
        DRIFT,
        "gt",
        0.1,
        0.25,
        "PSI above 0.1 means the applicant population moved; above 0.25 the score is unreliable.",
    ),
    "thin_file_approval_ratio": (
        FAIRNESS,
        "lt",
        0.85,
        0.8,
        "Below 0.8 the four-fifths rule is breached.",
    ),
    "long_ticket_refusal_rate": (
        REFUSALS,
        "gt",
        0.05,
        0.1,
        "More than 5% of long tickets unrouted is a regression; 10% is an incident.",
    ),
}

# The evaluations CI (and, for human review, the underwriters) post for a version:
# kind -> (name, passed, hypothesis, criterion, metrics, reviewer)
LOAN_EVALUATIONS = {
    "adversarial": (
        "tests/adversarial::test_feature_perturbation",
        "Small perturbations of income do not flip decisions.",
        "Fewer than 1% decision flips under +/-5% income noise.",
        "flip_rate",
    ),
    "distributional-stress": (
        "tests/stress::test_recession_scenario",
        "The model stays calibrated when default rates double.",
        "Expected calibration error below 0.03 on the stressed sample.",
        "ece",
    ),
    "human-review": (
        "Underwriter review of 200 declines",
        "Declines are explainable to the applicant.",
        "Two underwriters agree on 95% of reason codes.",
        "agreement",
    ),
}
FRAUD_EVALUATIONS = {
    "adversarial": (
        "tests/adversarial::test_split_payments",
        "Splitting a payment into small ones does not evade the hold.",
        "Recall on split-payment fraud at least 0.9.",
        "split_recall",
    ),
    "distributional-stress": (
        "tests/stress::test_holiday_peak",
        "Scores stay calibrated at three times the usual payment volume.",
        "Expected calibration error below 0.02 at peak volume.",
        "ece",
    ),
    "human-review": (
        "Analyst review of 300 holds",
        "Holds are justified to a fraud analyst.",
        "Analysts confirm 90% of sampled holds.",
        "confirmed",
    ),
}
LIMIT_EVALUATION = (
    "tests/edge::test_extreme_incomes",
    "Incomes at the edges of the training range get a sensible band.",
    "No band above 3 for declared incomes under 15k.",
    "violations",
)


def version(model_name: str, label: str) -> ModelVersion:
    return ModelVersion.objects.select_related("model").get(model__name=model_name, version=label)


def risk(title: str) -> Risk:
    return Risk.objects.get(title=title)


def create_risks(context, *titles) -> None:
    for title in titles:
        spec = dict(RISKS[title])
        team = Group.objects.get(name=spec.pop("team"))
        if Risk.objects.filter(title=title, team=team).exists():
            continue
        model = MLModel.objects.get(name=spec.pop("model"))
        owner = spec.pop("owner")
        with as_user(context, owner):
            services.create_risk(
                team=team,
                owner=context["users"][owner],
                title=title,
                links={"ml_models": [model]},
                **spec,
            )


def thresholds(context, target: ModelVersion, *metrics) -> None:
    """The team watches ``metrics`` of a version before it serves."""
    for metric in metrics:
        if Threshold.objects.filter(model_version=target, metric=metric).exists():
            continue
        title, comparator, warning, critical, hypothesis = THRESHOLDS[metric]
        with as_user(context, "engineer"):
            threshold = Threshold(
                risk=risk(title),
                model_version=target,
                metric=metric,
                comparator=comparator,
                warning_value=warning,
                critical_value=critical,
                hypothesis=hypothesis,
            )
            threshold.full_clean()
            threshold.save()


def post(context, target, kind, spec, value, *, passed=True, reviewer=None) -> None:
    """One evaluation result, as CI (or a reviewer, for a human review) posts it."""
    name, hypothesis, criterion, metric = spec
    if Evaluation.objects.filter(model_version=target, kind=kind, name=name).exists():
        return
    by = "engineer" if kind == "human-review" else "pipeline"
    model = target.model
    with as_user(context, by):
        evaluation = Evaluation(
            model_version=target,
            kind=kind,
            name=name,
            suite=kind,
            hypothesis=hypothesis,
            success_criterion=criterion,
            metrics={metric: value},
            outcome="passed" if passed else "failed",
            run_reference=f"https://ci.example.com/{model.team.name}/{model.name}"
            f"/-/jobs/{target.pk}{len(kind)}",
            reviewer=context["users"][reviewer] if reviewer else None,
            submitted_by=context["users"][by],
        )
        evaluation.full_clean()
        evaluation.save()
    later(context, minutes=5)


def review(context, title: str, username: str, notes: str) -> None:
    """The owner reviews a risk whose review is due (once per story moment)."""
    found = risk(title)
    if found.last_reviewed_at and found.last_reviewed_at.date() >= timezone.localdate():
        return
    if found.next_review_date > timezone.localdate() + timedelta(days=7):
        return
    with as_user(context, username):
        services.record_review(found, context["users"][username], notes=notes)


@chapter(days_ago=148)
def loan_default_register(context):
    """credit-risk registers loan-default's risks, controls and thresholds; CI and the
    underwriters post @1's evaluations"""
    create_risks(context, DRIFT, FAIRNESS)
    fairness = risk(FAIRNESS)
    if not fairness.controls.exists():
        engineer = context["users"]["engineer"]
        with as_user(context, "engineer"):
            for title, status, evidence in (
                (
                    "Thin-file applicants declined above 0.8 go to an underwriter",
                    "verified",
                    "https://wiki.example.com/credit/underwriting-review",
                ),
                ("Monthly disparate-impact report to the board", "implemented", ""),
            ):
                control = Control(
                    risk=fairness, title=title, owner=engineer, status=status, evidence_url=evidence
                )
                control.full_clean()
                control.save()
    loan1 = version("loan-default", "1")
    thresholds(context, loan1, "score_psi", "thin_file_approval_ratio")
    for kind, value in (("adversarial", 0.003), ("distributional-stress", 0.018)):
        post(context, loan1, kind, LOAN_EVALUATIONS[kind], value)
    post(context, loan1, "human-review", LOAN_EVALUATIONS["human-review"], 0.96, reviewer="board")


@chapter(days_ago=119)
def card_fraud_register(context):
    """fraud-detection registers its misuse risk; card-fraud@1's evaluations are posted"""
    create_risks(context, PROBING)
    card1 = version("card-fraud", "1")
    for kind, value in (("adversarial", 0.93), ("distributional-stress", 0.015)):
        post(context, card1, kind, FRAUD_EVALUATIONS[kind], value)
    post(context, card1, "human-review", FRAUD_EVALUATIONS["human-review"], 0.92, reviewer="board")


@chapter(days_ago=99)
def credit_extract_2_evaluations(context):
    """loan-default@2 and credit-limit@1 pass their evaluations; thresholds watch @2"""
    loan2 = version("loan-default", "2")
    for kind, value in (("adversarial", 0.004), ("distributional-stress", 0.021)):
        post(context, loan2, kind, LOAN_EVALUATIONS[kind], value)
    post(context, loan2, "human-review", LOAN_EVALUATIONS["human-review"], 0.97, reviewer="board")
    thresholds(context, loan2, "score_psi", "thin_file_approval_ratio")
    post(context, version("credit-limit", "1"), "edge-case", LIMIT_EVALUATION, 0)


@chapter(days_ago=71)
def support_triage_register(context):
    """customer-support records the refusal-rate risk its edge-case test found, and watches it"""
    create_risks(context, REFUSALS)
    triage1 = version("support-triage", "1")
    post(
        context,
        triage1,
        "edge-case",
        (
            "tests/edge::test_very_long_ticket",
            "Tickets over 2,000 words are routed like short ones.",
            "Refusal rate on long tickets under 5%.",
            "long_ticket_refusal_rate",
        ),
        0.08,
        passed=False,
    )
    thresholds(context, triage1, "long_ticket_refusal_rate")


@chapter(days_ago=60)
def fairness_review(context):
    """engineer reviews the fairness risk: the control held"""
    review(context, FAIRNESS, "engineer", "Four-fifths ratio 0.91 this quarter; control verified.")


@chapter(days_ago=59)
def card_fraud_2_evaluations(context):
    """card-fraud@2 passes its evaluations"""
    card2 = version("card-fraud", "2")
    for kind, value in (("adversarial", 0.95), ("distributional-stress", 0.012)):
        post(context, card2, kind, FRAUD_EVALUATIONS[kind], value)
    post(context, card2, "human-review", FRAUD_EVALUATIONS["human-review"], 0.94, reviewer="board")


@chapter(days_ago=36)
def drift_acceptance(context):
    """the drift risk, re-rated above appetite by the incident review, is accepted by
    approver and approver2 for 60 days"""
    drift = risk(DRIFT)
    if drift.acceptances.exists() or not drift.above_appetite:
        return
    engineer = context["users"]["engineer"]
    with as_user(context, "engineer"):
        acceptance = services.request_acceptance(
            drift,
            engineer,
            justification="loan-default@1 serves with weekly PSI checks and the tightened "
            "threshold until @3, trained on the third extract with the new bands mapped, ships.",
            expires_at=timezone.now() + timedelta(days=60),
        )
    for username in ("approver", "approver2"):
        later(context, hours=3)
        with as_user(context, username):
            acceptance = services.decide_acceptance(
                acceptance,
                context["users"][username],
                verdict="approve",
                comment="Agreed until @3 ships.",
            )
        if acceptance.status == AcceptanceStatus.ACCEPTED:
            break


@chapter(days_ago=29)
def credit_extract_3_evaluations(context):
    """CI posts loan-default@3's adversarial and stress results (its human review is not
    done yet) and credit-limit@2's edge cases"""
    loan3 = version("loan-default", "3")
    for kind, value in (("adversarial", 0.006), ("distributional-stress", 0.027)):
        post(context, loan3, kind, LOAN_EVALUATIONS[kind], value)
    post(context, version("credit-limit", "2"), "edge-case", LIMIT_EVALUATION, 0)


@chapter(days_ago=25)
def card_fraud_review(context):
    """approver2 reviews the threshold-probing risk"""
    review(context, PROBING, "approver2", "Share just under the threshold flat at 1.2%.")


@chapter(days_ago=5)
def drift_review(context):
    """engineer reviews the drift risk: PSI of @1 is stable"""
    review(context, DRIFT, "engineer", "PSI of @1 at 0.04 weekly; the acceptance holds.")


# --- red team ------------------------------------------------------------------------

REDTEAM_EXERCISE = "Adversarial applications sweep"
REDTEAM_FINDING = "Crafted income strings overflow the debt ratio"
REDTEAM_RISK = "Crafted applications inflate the score"
REDTEAM_TEST = "tests/redteam::test_income_string_overflow"


def redteam_result(context, target, *, passed: bool) -> None:
    """CI runs the finding's red-team test on ``target`` (once per outcome)."""
    outcome = "passed" if passed else "failed"
    if Evaluation.objects.filter(
        model_version=target, kind="red-team", name=REDTEAM_TEST, outcome=outcome
    ).exists():
        return
    with as_user(context, "pipeline"):
        evaluation = Evaluation(
            model_version=target,
            kind="red-team",
            name=REDTEAM_TEST,
            suite="red-team",
            hypothesis="An income of '9' * 40 no longer overflows the debt-ratio feature.",
            success_criterion=DEFAULT_SUCCESS_CRITERION,
            metrics={"reproduced": 0 if passed else 1},
            outcome=outcome,
            message="" if passed else "Score 0.99 for a crafted application (expected < 0.5).",
            run_reference=f"https://ci.example.com/credit-risk/loan-default/-/jobs/rt{target.pk}",
            submitted_by=context["users"]["pipeline"],
        )
        evaluation.full_clean()
        evaluation.save()
    later(context, minutes=5)


@chapter(days_ago=27)
def loan_default_3_redteam_exercise(context):
    """credit-risk's engineer starts a red-team exercise on loan-default@3 in staging:
    crafted applications against the feature pipeline"""
    if RedTeamExercise.objects.filter(title=REDTEAM_EXERCISE).exists():
        return
    with as_user(context, "engineer"):
        exercise = redteam.save_exercise(
            RedTeamExercise(
                team=Group.objects.get(name="credit-risk"),
                title=REDTEAM_EXERCISE,
                scope="Application fields the applicant types (income, debts, employer) "
                "and how the feature job parses them.",
                method="Manual crafting of applications, then a fuzzing corpus of 5,000 "
                "malformed income strings replayed against staging.",
                starts_on=timezone.localdate(),
            ),
            model_versions=[version("loan-default", "3")],
            participants=[context["users"]["engineer"]],
            user=context["users"]["engineer"],
        )
        exercise.status = ExerciseStatus.RUNNING
        redteam.save_exercise(exercise)


@chapter(days_ago=25)
def loan_default_3_redteam_finding(context):
    """the exercise finds that crafted income strings inflate loan-default@3's score (high):
    a new risk, and a red-team test in CI that reproduces it; the exercise is completed"""
    exercise = RedTeamExercise.objects.get(title=REDTEAM_EXERCISE)
    engineer = context["users"]["engineer"]
    if not exercise.findings.filter(title=REDTEAM_FINDING).exists():
        with as_user(context, "engineer"):
            redteam.record_finding(
                exercise,
                engineer,
                title=REDTEAM_FINDING,
                severity=FindingSeverity.HIGH,
                reproduction="Submit an application whose income is the string '9' repeated "
                "40 times: the feature job reads it as 9.99e39, the debt ratio underflows "
                "to 0 and the score approves.",
                new_risk=redteam.NewRisk(
                    title=REDTEAM_RISK,
                    likelihood=3,
                    impact=3,
                    owner=engineer,
                    category="security",
                ),
                evaluation_name=REDTEAM_TEST,
            )
    redteam_result(context, version("loan-default", "3"), passed=False)
    if exercise.status == ExerciseStatus.RUNNING:
        later(context, hours=4)
        with as_user(context, "engineer"):
            exercise.status = ExerciseStatus.COMPLETED
            exercise.ends_on = timezone.localdate()
            redteam.save_exercise(exercise)


@chapter(days_ago=0.5)
def loan_default_3_redteam_fix(context):
    """the parser fix lands and CI's red-team test passes on loan-default@3: the finding is
    fixed, and @3's production request no longer waits for it (it still waits for its
    human review and a second approver)"""
    redteam_result(context, version("loan-default", "3"), passed=True)
