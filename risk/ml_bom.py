"""What the risk register adds to a version's CycloneDX ML-BOM (``registry.ml_bom``):
each evaluation's metrics as performance metrics, sliced by the evaluation, and the
risks on the model or the version, with their controls, as considerations (bias and
fairness risks as fairness assessments). Registered in ``RiskConfig.ready``."""

import math

from django.db.models import Prefetch, Q

from registry.ml_bom import BomPart, ml_bom_part
from risk.choices import RiskCategory, RiskStatus
from risk.models import Control, Evaluation, Risk


def _number(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


@ml_bom_part("risk.evaluations_and_risks")
def evaluations_and_risks(version, user) -> BomPart:
    part = BomPart()
    evaluations = Evaluation.objects.filter(model_version=version).order_by("created_at", "pk")
    for evaluation in evaluations:
        where = f"{evaluation.name} ({evaluation.kind}, {evaluation.outcome})"
        for name, value in sorted(evaluation.metrics.items()):
            text = _number(value)
            if text is not None:
                part.performance_metrics.append({"type": name, "value": text, "slice": where})
    risks = (
        Risk.objects.filter(Q(ml_models=version.model) | Q(model_versions=version))
        .exclude(status=RiskStatus.CLOSED)
        .distinct()
        .prefetch_related(Prefetch("controls", queryset=Control.objects.order_by("pk")))
        .order_by("created_at", "pk")
    )
    for risk in risks:
        mitigation = "; ".join(c.title for c in risk.controls.all())
        name = f"{risk.title} (residual {risk.residual_level}, {risk.status})"
        if risk.category == RiskCategory.BIAS_FAIRNESS:
            entry = {"groupAtRisk": risk.title, "harms": risk.description or risk.hypothesis}
            if mitigation:
                entry["mitigationStrategy"] = mitigation
            part.considerations.setdefault("fairnessAssessments", []).append(
                {k: v for k, v in entry.items() if v}
            )
            continue
        entry = {"name": name}
        if mitigation:
            entry["mitigationStrategy"] = mitigation
        part.considerations.setdefault("ethicalConsiderations", []).append(entry)
    return part
