"""What the risk register tells the deployment gate (registered in ``RiskConfig.ready``).

- "required-evaluations": every evaluation kind the version's risk tier requires
  has a passing result for this version, and no test case of that kind has a
  newer failing result.
- "risks-within-appetite": no live risk linked to the model, to this version or
  to a deployment of the model has a residual level above its appetite without
  an accepted, unexpired acceptance. An acceptance past its expiry counts as
  none even before the periodic task has marked it expired.
- fingerprint part "evaluations": this version's evaluation ids and results. A
  new passing result is evidence arriving: approvals given before it stand. A
  result changed or removed, a new failing one, or a new result of a test case
  whose passing result the approver saw (a re-run) lapses them. A result saved,
  deleted or stored in a report re-judges the version's open requests in the same
  transaction (``results_changed``), so the lapse or the arrival is recorded then.
- "redteam-findings": no red-team finding of severity high or critical, of an
  exercise not cancelled, has this version in scope while its red-team evaluation
  has not passed on this version (latest result) and its risk has no valid
  acceptance.

- "risks-monitored": for models of the tiers in
  ``GOVREG_SUFFICIENT_MONITORING_TIERS`` (high by default), every live linked risk
  at residual level high or above has sufficient monitoring (``risk.sufficiency``).

The checks judge deployments only: a rollback puts back a version that passed
them when it shipped.
"""

from datetime import UTC

from django.conf import settings
from django.db.models import Exists, Prefetch, Q, Subquery
from django.db.models.functions import JSONObject
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.sql import JSONArray
from registry.choices import RequestKind
from registry.gate import services as gate
from registry.gate.checks import (
    CheckResult,
    GateContext,
    fingerprint_part,
    gate_check,
    gate_fact,
    loaded_fact,
    memoize,
)
from risk import redteam, sufficiency
from risk.choices import BLOCKING_SEVERITIES, AcceptanceStatus, EvaluationKind, ExerciseStatus
from risk.models import Evaluation, RedTeamFinding, RequiredEvaluation, Risk, RiskAcceptance

KIND_LABELS = dict(EvaluationKind.choices)


# What one judgement reads, loaded with the request (``registry.gate.checks.gate_fact``).
REQUIRED_KINDS = "risk.required-kinds"
EVALUATIONS = "risk.evaluations"
ABOVE_APPETITE = "risk.above-appetite"
NOT_LOADED = object()
EVALUATION_FIELDS = ("id", "kind", "name", "outcome", "passed", "created_at")


@gate_fact(REQUIRED_KINDS)
def required_kinds_fact(version):
    """The evaluation kinds the version's risk tier requires."""
    return Subquery(
        RequiredEvaluation.objects.filter(risk_tier=version("model__risk_tier"))
        .order_by()
        .values("risk_tier")
        .annotate(kinds=JSONArray("kind"))
        .values("kinds")
    )


@gate_fact(EVALUATIONS)
def evaluations_fact(version):
    """The version's evaluation results (the fields the gate reads)."""
    row = JSONObject(pk="pk", **{name: name for name in EVALUATION_FIELDS if name != "id"})
    return Subquery(
        Evaluation.objects.filter(model_version=version("pk"))
        .order_by()
        .values("model_version")
        .annotate(rows=JSONArray(row))
        .values("rows")
    )


@gate_fact(ABOVE_APPETITE)
def above_appetite_fact(version):
    """Whether a live risk linked to the version is above its appetite (accepted or not)."""
    return Exists(linked_risks(version("model_id"), version("pk")).above_appetite())


def required_kinds(risk_tier: str) -> list[str]:
    def read():
        return list(
            RequiredEvaluation.objects.filter(risk_tier=risk_tier)
            .order_by("kind")
            .values_list("kind", flat=True)
        )

    return list(memoize(("risk.required_kinds", risk_tier), read))


def required_kinds_of(model_version) -> list[str]:
    """The kinds the version's tier requires, as loaded for this judgement if it was."""
    loaded = loaded_fact(model_version, REQUIRED_KINDS, NOT_LOADED)
    if loaded is NOT_LOADED:
        return required_kinds(model_version.model.risk_tier)
    return sorted(loaded or [])


def _loaded_evaluation(row: dict) -> Evaluation:
    """An evaluation as ``.only(*EVALUATION_FIELDS)`` would load it, from a fact's row
    (JSON: a boolean may be 0/1, a time is text in the database's own format)."""
    created_at = parse_datetime(row["created_at"])
    if timezone.is_naive(created_at):
        created_at = timezone.make_aware(created_at, UTC)
    values = {**row, "id": row["pk"], "passed": bool(row["passed"]), "created_at": created_at}
    names = [f.attname for f in Evaluation._meta.concrete_fields if f.attname in EVALUATION_FIELDS]
    return Evaluation.from_db("default", names, [values[name] for name in names])


def evaluations_of(model_version) -> list[Evaluation]:
    """The version's evaluation results, oldest first; read once per judgement (with
    the request when the gate loaded it), shared by the fingerprint part and the
    required-evaluations check."""

    def read():
        loaded = loaded_fact(model_version, EVALUATIONS, NOT_LOADED)
        if loaded is not NOT_LOADED:
            rows = [_loaded_evaluation(row) for row in loaded or []]
            return sorted(rows, key=lambda e: (e.created_at, e.pk))
        return list(
            Evaluation.objects.filter(model_version=model_version)
            .only(*EVALUATION_FIELDS)
            .order_by("created_at", "pk")
        )

    return memoize(("risk.evaluations", model_version.pk), read)


def evaluation_gaps(model_version) -> list[str]:
    """One sentence per required evaluation kind that is missing or failing."""
    tier = model_version.model.risk_tier
    kinds = required_kinds_of(model_version)
    if not kinds:
        return []
    latest: dict[tuple[str, str], Evaluation] = {}
    for evaluation in evaluations_of(model_version):
        if evaluation.kind in kinds:
            latest[(evaluation.kind, evaluation.name)] = evaluation
    url = reverse("modelversion-evaluations", args=[model_version.pk])
    gaps = []
    for kind in kinds:
        results = [e for (k, _), e in latest.items() if k == kind]
        failing = [e for e in results if not e.passed]
        label = KIND_LABELS.get(kind, kind)
        if failing:
            names = ", ".join(f"{e.name!r} ({e.outcome}, #{e.pk})" for e in failing[:3])
            more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
            gaps.append(
                f"{label} evaluation failing for {model_version}: latest result of "
                f"{names}{more}; post a passing result to {url} (kind={kind})"
            )
        elif not results:
            gaps.append(
                f"{label} evaluation missing for {model_version} ({tier} tier requires it); "
                f"post a passing result to {url} (kind={kind})"
            )
    return gaps


@gate_check("required-evaluations", order=200, kinds=(RequestKind.DEPLOY,))
def required_evaluations(deployment_request, context: GateContext) -> CheckResult:
    version = context.version
    gaps = evaluation_gaps(version)
    if gaps:
        return CheckResult("required-evaluations", False, "; ".join(gaps))
    kinds = required_kinds_of(version)
    if not kinds:
        reason = f"The {version.model.risk_tier} tier requires no evaluations."
    else:
        reason = "Passed: " + ", ".join(KIND_LABELS.get(k, k) for k in kinds) + "."
    return CheckResult("required-evaluations", True, reason)


def linked_risks(model_id, model_version_id):
    """Live risks linked to a model, to one of its versions, or to a deployment of it
    (the ids may be ``OuterRef``s)."""
    return Risk.objects.live().filter(
        Q(ml_models=model_id) | Q(model_versions=model_version_id) | Q(deployments__model=model_id)
    )


def risks_concerning(model_version):
    """Live risks linked to the version's model, to the version, or to a deployment of the model."""
    return linked_risks(model_version.model_id, model_version.pk).distinct()


def appetite_breaches(model_version, now=None) -> list[str]:
    """One sentence per linked risk above its appetite without a valid acceptance."""
    now = now or timezone.now()
    accepted = Prefetch(
        "acceptances",
        queryset=RiskAcceptance.objects.filter(status=AcceptanceStatus.ACCEPTED),
        to_attr="accepted",
    )
    breaches = []
    above = risks_concerning(model_version).above_appetite().prefetch_related(accepted)
    for risk in above.order_by("pk"):
        valid = [a for a in risk.accepted if a.is_valid(now)]
        if valid:
            continue
        lapsed = [a for a in risk.accepted if not a.is_valid(now)]
        why = (
            f"its acceptance #{lapsed[0].pk} expired on {lapsed[0].expires_at:%Y-%m-%d}"
            if lapsed
            else "it has no valid acceptance"
        )
        breaches.append(
            f"risk #{risk.pk} {risk.title!r} has residual level {risk.residual_level} above "
            f"its appetite {risk.appetite} and {why}; lower its residual score with controls "
            f"or get an acceptance approved (POST {reverse('risk-acceptances', args=[risk.pk])})"
        )
    return breaches


@gate_check("risks-within-appetite", order=210, kinds=(RequestKind.DEPLOY,))
def risks_within_appetite(deployment_request, context: GateContext) -> CheckResult:
    above = context.facts.get(ABOVE_APPETITE)
    breaches = [] if above is False else appetite_breaches(context.version, context.now)
    if breaches:
        return CheckResult("risks-within-appetite", False, "; ".join(breaches))
    return CheckResult(
        "risks-within-appetite",
        True,
        "Every linked risk is within its appetite or validly accepted.",
    )


def evaluations_arrived(seen: list, now: list) -> bool:
    """Whether the evaluations now only add evidence to those an approver saw: each
    result they saw is there unchanged, and each new one passes without re-running
    a test case they saw passing."""
    before = {pk: passed for pk, passed in seen}
    after = {pk: passed for pk, passed in now}
    if any(after.get(pk) != passed for pk, passed in before.items()):
        return False
    added = [pk for pk in after if pk not in before]
    if not all(after[pk] for pk in added):
        return False
    cases = {
        pk: (kind, name)
        for pk, kind, name in Evaluation.objects.filter(pk__in=[*before, *added]).values_list(
            "pk", "kind", "name"
        )
    }
    passing_seen = {cases[pk] for pk, passed in before.items() if passed and pk in cases}
    return not any(cases.get(pk) in passing_seen for pk in added)


@fingerprint_part("evaluations", arrival=evaluations_arrived)
def evaluations_fingerprint(model_version) -> list:
    return sorted([e.pk, e.passed] for e in evaluations_of(model_version))


def results_changed(model_version_id: int) -> None:
    """The evaluations of a version changed: the red-team findings they test follow,
    and its open requests are re-judged now."""
    redteam.evaluations_changed(model_version_id)
    gate.rejudge_open(model_version_ids=[model_version_id])


# --- red-team findings ---------------------------------------------------------------

REDTEAM_FINDINGS = "risk.redteam-findings"


def _blocking_findings(model_version):
    return RedTeamFinding.objects.filter(
        exercise__model_versions=model_version, severity__in=BLOCKING_SEVERITIES
    ).exclude(exercise__status=ExerciseStatus.CANCELLED)


@gate_fact(REDTEAM_FINDINGS)
def redteam_findings_fact(version):
    """Whether a high or critical finding of a live exercise has this version in scope."""
    return Exists(_blocking_findings(version("pk")))


def redteam_blockers(model_version, now=None) -> list[str]:
    """One sentence per high or critical finding with the version in scope whose
    red-team evaluation has not passed on this version (its latest result) and whose
    risk has no valid acceptance."""
    now = now or timezone.now()
    accepted = Prefetch(
        "risk__acceptances",
        queryset=RiskAcceptance.objects.filter(
            status=AcceptanceStatus.ACCEPTED, expires_at__gt=now
        ),
        to_attr="valid_acceptances",
    )
    findings = (
        _blocking_findings(model_version)
        .select_related("exercise", "risk")
        .prefetch_related(accepted)
        .distinct()
        .order_by("pk")
    )
    latest: dict[str, Evaluation] = {}
    for evaluation in evaluations_of(model_version):
        if evaluation.kind == EvaluationKind.RED_TEAM:
            latest[evaluation.name] = evaluation
    url = reverse("modelversion-evaluations", args=[model_version.pk])
    blockers = []
    for finding in findings:
        result = latest.get(finding.evaluation_name)
        if result is not None and result.passed:
            continue
        if finding.risk.valid_acceptances:
            continue
        tried = (
            f"its evaluation failed on this version (#{result.pk}, {result.outcome})"
            if result is not None
            else "no result of its evaluation on this version"
        )
        blockers.append(
            f"red-team finding #{finding.pk} {finding.title!r} ({finding.severity}, exercise "
            f"{finding.exercise.title!r}) is open for {model_version}: {tried}; post a passing "
            f"result named {finding.evaluation_name!r} to {url} (kind=red-team), or get an "
            f"acceptance of risk #{finding.risk_id} approved "
            f"(POST {reverse('risk-acceptances', args=[finding.risk_id])})"
        )
    return blockers


@gate_check("redteam-findings", order=215, kinds=(RequestKind.DEPLOY,))
def redteam_findings(deployment_request, context: GateContext) -> CheckResult:
    candidates = context.facts.get(REDTEAM_FINDINGS)
    blockers = [] if candidates is False else redteam_blockers(context.version, context.now)
    if blockers:
        return CheckResult("redteam-findings", False, "; ".join(blockers))
    return CheckResult(
        "redteam-findings",
        True,
        "No high or critical red-team finding is open for this version.",
    )


@receiver(post_save, sender=Evaluation, dispatch_uid="risk-gate-evaluation-saved")
@receiver(post_delete, sender=Evaluation, dispatch_uid="risk-gate-evaluation-deleted")
def rejudge_after_evaluation(sender, instance, raw=False, **kwargs):
    if not raw:
        results_changed(instance.model_version_id)


# --- monitoring sufficiency -----------------------------------------------------------

UNMONITORED = "risk.unmonitored"
MONITORED_LEVELS = ("high", "critical")


def monitored_tiers() -> list[str]:
    return list(settings.GOVREG_SUFFICIENT_MONITORING_TIERS)


def _unmonitored(model_id, model_version_id, now=None):
    """Live risks at level high or above linked to the version whose monitoring is not
    sufficient (the ids may be ``OuterRef``s)."""
    risks = linked_risks(model_id, model_version_id).filter(residual_level__in=MONITORED_LEVELS)
    return sufficiency.annotate(risks, now).exclude(sufficiency=sufficiency.Sufficiency.SUFFICIENT)


@gate_fact(UNMONITORED)
def unmonitored_fact(version):
    """Whether a linked risk at level high or above lacks sufficient monitoring."""
    return Exists(_unmonitored(version("model_id"), version("pk"), version.now))


def monitoring_gaps(model_version, now=None) -> list[str]:
    """One sentence per linked risk at level high or above without sufficient monitoring."""
    now = now or timezone.now()
    risks = list(_unmonitored(model_version.model_id, model_version.pk, now).distinct())
    found = sufficiency.reports(risks, now)
    return [
        f"risk #{risk.pk} {risk.title!r} (residual {risk.residual_level}) has "
        f"{found[risk.pk].level} monitoring: {'; '.join(found[risk.pk].reasons)} "
        f"(GET {reverse('risk-detail', args=[risk.pk])})"
        for risk in sorted(risks, key=lambda r: r.pk)
    ]


@gate_check("risks-monitored", order=212, kinds=(RequestKind.DEPLOY,))
def risks_monitored(deployment_request, context: GateContext) -> CheckResult:
    tier = context.version.model.risk_tier
    if tier not in monitored_tiers():
        return CheckResult(
            "risks-monitored", True, f"The {tier} tier does not require sufficient monitoring."
        )
    unmonitored = context.facts.get(UNMONITORED)
    gaps = [] if unmonitored is False else monitoring_gaps(context.version, context.now)
    if gaps:
        return CheckResult("risks-monitored", False, "; ".join(gaps))
    return CheckResult(
        "risks-monitored",
        True,
        "Every linked risk at level high or above has sufficient monitoring.",
    )


__all__ = [
    "appetite_breaches",
    "monitoring_gaps",
    "redteam_blockers",
    "redteam_findings",
    "evaluation_gaps",
    "required_evaluations",
    "results_changed",
    "risks_concerning",
    "risks_monitored",
    "risks_within_appetite",
]
