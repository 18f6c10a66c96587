"""Monitoring sufficiency of a risk, computed, never typed: is anything watching
it, and does it still report?

- **watched**: thresholds watch the risk, each declares a cadence (heartbeat) and
  each has had a reading within it and its grace period;
- **tested**: an evaluation of a model version linked to the risk (directly,
  through its model or through a deployment) has passed, and no test case's
  latest result (per version, kind and name) failed or errored;
- **controlled**: at least one control is implemented or verified.

``sufficient``: watched, tested and controlled. ``none``: no threshold has a live
reading and no evaluation has passed, so nothing observes the risk. ``partial``:
anything in between. Each shortfall is a reason a person can act on ("threshold
'refusal_rate' has had no reading for 3 days").

The verdict is computed twice from the same rules, once as SQL (``annotate``: the
register's ``?sufficiency=`` filter, the gate) and once in Python with the reasons
(``reports``: a page of risks in a bounded number of queries);
tests/risk/test_sufficiency.py holds them to the same answer.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.timesince import timesince

from risk.choices import ControlStatus, EvaluationOutcome
from risk.models import Control, Evaluation, HeartbeatState, Risk, Threshold
from risk.models.monitoring import reading_due

FAILING = (EvaluationOutcome.FAILED, EvaluationOutcome.ERROR)
WORKING = (ControlStatus.IMPLEMENTED, ControlStatus.VERIFIED)
ALIVE = (HeartbeatState.UP, HeartbeatState.LATE)


class Sufficiency(models.TextChoices):
    NONE = "none", "None"
    PARTIAL = "partial", "Partial"
    SUFFICIENT = "sufficient", "Sufficient"


def verdict(*, watched: bool, any_alive: bool, passed: bool, failing: bool, controlled: bool):
    """The one rule (mirrored by ``annotate``)."""
    if watched and passed and not failing and controlled:
        return Sufficiency.SUFFICIENT
    if not any_alive and not passed:
        return Sufficiency.NONE
    return Sufficiency.PARTIAL


# --- SQL ---------------------------------------------------------------------------


def _linked_evaluations(risk):
    return Evaluation.objects.filter(
        Q(model_version__risks=risk)
        | Q(model_version__model__risks=risk)
        | Q(model_version__deployments__risks=risk)
    )


def annotate(queryset, now=None):
    """``queryset`` of risks with ``sufficiency`` (none, partial, sufficient) annotated."""
    now = now or timezone.now()
    risk = OuterRef("pk")
    thresholds = Threshold.objects.filter(risk=risk)
    blind = thresholds.alias(due=reading_due()).filter(
        Q(expected_every__isnull=True)
        | Q(last_reading_at__isnull=True)
        | Q(silent_since__isnull=False)
        | Q(due__lt=now)
    )
    # "later" as ``reports`` and the gate order results: by (created_at, pk)
    newer = Evaluation.objects.filter(
        Q(created_at__gt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk")),
        model_version=OuterRef("model_version"),
        kind=OuterRef("kind"),
        name=OuterRef("name"),
    )
    failing = _linked_evaluations(risk).filter(outcome__in=FAILING).filter(~Exists(newer))
    return queryset.alias(
        suff_threshold=Exists(thresholds),
        suff_blind=Exists(blind),
        suff_alive=Exists(Threshold.objects.alive(now).filter(risk=risk)),
        suff_passed=Exists(_linked_evaluations(risk).filter(passed=True)),
        suff_failing=Exists(failing),
        suff_controlled=Exists(Control.objects.filter(risk=risk, status__in=WORKING)),
    ).annotate(
        sufficiency=Case(
            When(
                Q(suff_threshold=True, suff_blind=False, suff_passed=True)
                & Q(suff_failing=False, suff_controlled=True),
                then=Value(Sufficiency.SUFFICIENT.value),
            ),
            When(
                Q(suff_alive=False, suff_passed=False),
                then=Value(Sufficiency.NONE.value),
            ),
            default=Value(Sufficiency.PARTIAL.value),
            output_field=models.CharField(),
        )
    )


def filter_level(queryset, level: str, now=None):
    return annotate(queryset, now).filter(sufficiency=level)


# --- Python, with the reasons -----------------------------------------------------------


@dataclass
class ThresholdState:
    id: int
    metric: str
    heartbeat: str
    last_reading_at: datetime | None
    expected_every_minutes: int | None


@dataclass
class EvaluationState:
    kind: str
    last_passed_at: datetime | None
    failing: list[str] = field(default_factory=list)


@dataclass
class Report:
    level: str
    reasons: list[str]
    thresholds: list[ThresholdState]
    evaluations: list[EvaluationState]
    controls_working: int
    controls_planned: int


def _threshold_reason(threshold: Threshold, state: str, now, *, shared: bool) -> str | None:
    """Why ``threshold`` does not count as watching; ``shared``: another threshold of the
    risk watches the same metric, so the reason names its subject too."""
    name = f"threshold {threshold.metric!r}"
    if shared:
        name += (
            f" on deployment #{threshold.deployment_id}"
            if threshold.deployment_id
            else f" on version #{threshold.model_version_id}"
        )
    if state == HeartbeatState.OFF:
        return f"{name} declares no reading cadence, so its silence would go unnoticed"
    if state == HeartbeatState.WAITING:
        return f"{name} has had no reading yet"
    if state == HeartbeatState.SILENT:
        return f"{name} has had no reading for {timesince(threshold.last_reading_at, now)}"
    return None


def _linked_versions(risks: list[Risk]) -> dict[int, set[int]]:
    """Per risk, the ids of the model versions linked to it (three queries)."""
    ids = [r.pk for r in risks]
    linked: dict[int, set[int]] = {pk: set() for pk in ids}
    through = Risk.model_versions.through
    for risk_id, version_id in through.objects.filter(risk_id__in=ids).values_list(
        "risk_id", "modelversion_id"
    ):
        linked[risk_id].add(version_id)
    by_model = Risk.ml_models.through.objects.filter(risk_id__in=ids).values_list(
        "risk_id", "mlmodel__versions"
    )
    for risk_id, version_id in by_model:
        if version_id is not None:
            linked[risk_id].add(version_id)
    deployed = Risk.deployments.through.objects.filter(risk_id__in=ids).values_list(
        "risk_id", "deployment__model_version_id"
    )
    for risk_id, version_id in deployed:
        linked[risk_id].add(version_id)
    return linked


def reports(risks, now=None) -> dict[int, Report]:
    """The sufficiency of each of ``risks`` with its reasons, in six queries whatever
    their number."""
    now = now or timezone.now()
    risks = list(risks)
    ids = [r.pk for r in risks]
    thresholds: dict[int, list[Threshold]] = {pk: [] for pk in ids}
    for threshold in Threshold.objects.filter(risk_id__in=ids).order_by("metric", "pk"):
        thresholds[threshold.risk_id].append(threshold)
    controls: dict[int, list[str]] = {pk: [] for pk in ids}
    for risk_id, status in Control.objects.filter(risk_id__in=ids).values_list("risk_id", "status"):
        controls[risk_id].append(status)
    linked = _linked_versions(risks)
    all_versions = set().union(*linked.values()) if linked else set()
    latest: dict[tuple, Evaluation] = {}
    evaluations = (
        Evaluation.objects.filter(model_version_id__in=all_versions)
        .select_related("model_version__model")
        .only(
            "pk",
            "kind",
            "name",
            "outcome",
            "passed",
            "created_at",
            "model_version__version",
            "model_version__model__name",
        )
        .order_by("created_at", "pk")
    )
    by_version: dict[int, list[Evaluation]] = {}
    for evaluation in evaluations:
        latest[(evaluation.model_version_id, evaluation.kind, evaluation.name)] = evaluation
        by_version.setdefault(evaluation.model_version_id, []).append(evaluation)
    return {
        risk.pk: _report(
            risk, thresholds[risk.pk], controls[risk.pk], linked[risk.pk], by_version, latest, now
        )  # fmt: skip
        for risk in risks
    }


def _report(risk, thresholds, controls, versions, by_version, latest, now) -> Report:
    reasons = []
    states = []
    alive = 0
    if not thresholds:
        reasons.append("no threshold watches it")
    for threshold in thresholds:
        state = threshold.heartbeat_state(now)
        alive += state in ALIVE
        states.append(
            ThresholdState(
                id=threshold.pk,
                metric=threshold.metric,
                heartbeat=state,
                last_reading_at=threshold.last_reading_at,
                expected_every_minutes=(
                    int(threshold.expected_every.total_seconds() // 60)
                    if threshold.expected_every is not None
                    else None
                ),
            )
        )
        shared = sum(t.metric == threshold.metric for t in thresholds) > 1
        reason = _threshold_reason(threshold, state, now, shared=shared)
        if reason:
            reasons.append(reason)
    kinds: dict[str, EvaluationState] = {}
    passed = False
    failing = False
    for version_id in sorted(versions):
        for evaluation in by_version.get(version_id, []):
            entry = kinds.setdefault(evaluation.kind, EvaluationState(evaluation.kind, None))
            if evaluation.passed:
                passed = True
                entry.last_passed_at = evaluation.created_at
    for (version_id, _kind, _name), evaluation in sorted(latest.items(), key=lambda i: i[1].pk):
        if version_id in versions and evaluation.outcome in FAILING:
            failing = True
            version = evaluation.model_version
            kinds[evaluation.kind].failing.append(
                f"{evaluation.name!r} of {version.model.name}@{version.version} last "
                f"{evaluation.outcome} on {evaluation.created_at:%Y-%m-%d}"
            )
    if not kinds:
        reasons.append("no evaluation of its model versions tests it")
    elif not passed:
        reasons.append("no evaluation of its model versions has passed")
    for entry in sorted(kinds.values(), key=lambda e: e.kind):
        for line in entry.failing:
            reasons.append(f"{entry.kind} evaluation {line}")
    working = sum(status in WORKING for status in controls)
    if not working:
        planned = len(controls)
        reasons.append(
            f"no control is implemented ({planned} planned)" if planned else "it has no control"
        )
    watched = bool(thresholds) and alive == len(thresholds)
    level = verdict(
        watched=watched, any_alive=alive > 0, passed=passed, failing=failing, controlled=working > 0
    )
    return Report(
        level=level,
        reasons=reasons,
        thresholds=states,
        evaluations=sorted(kinds.values(), key=lambda e: e.kind),
        controls_working=working,
        controls_planned=len(controls) - working,
    )


def report(risk, now=None) -> Report:
    return reports([risk], now)[risk.pk]
