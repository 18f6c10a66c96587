"""Personal data and the gate (issue 15): the check that needs lineage, the vocabulary and
the evaluations together, so it lives in the app that knows all three.

- "personal-data-safeguards": a version trained on personal data
  (``registry.personal_data``: a training dataset version tagged ``PII.Sensitive``)
  goes to a protected environment only when every such dataset version has consent
  notes and a ``privacy-review`` evaluation of the version passed (the latest result
  of each privacy-review test case passing). Deployments only: a rollback puts back a
  version that passed it when it shipped.

Also here: risks in the shared vocabulary.
"""

from django.urls import reverse

from registry.choices import RequestKind
from registry.gate.checks import CheckResult, GateContext, gate_check, memoize
from registry.personal_data import personal_data_among
from risk.checks import evaluations_of
from risk.choices import EvaluationKind
from vocabulary.choices import PII_SENSITIVE
from vocabulary.targets import register_target

register_target("risk", "risk.Risk", page=lambda r: reverse("ui-risk-detail", args=[r.pk]))

CHECK = "personal-data-safeguards"


def privacy_review_state(model_version) -> tuple[bool, list[str]]:
    """Whether a privacy review passed, and the failing test cases (latest result each)."""
    latest = {}
    for evaluation in evaluations_of(model_version):
        if evaluation.kind == EvaluationKind.PRIVACY_REVIEW:
            latest[evaluation.name] = evaluation
    failing = [f"{e.name!r} (#{e.pk})" for e in latest.values() if not e.passed]
    return bool(latest) and not failing, failing


@gate_check(CHECK, order=220, kinds=(RequestKind.DEPLOY,))
def personal_data_safeguards(deployment_request, context: GateContext) -> CheckResult:
    environment, version = context.environment, context.version
    if not environment.protected:
        return CheckResult(CHECK, True, f"{environment.name} is not a protected environment.")
    found = memoize(
        ("risk.personal_data", version.pk),
        lambda: personal_data_among(context.training_data.dataset_versions),
    )
    if not found.trained_on_personal_data:
        return CheckResult(CHECK, True, f"No training dataset version is tagged {PII_SENSITIVE}.")
    problems = []
    for dv in found.dataset_versions:
        if not dv.consent_notes.strip():
            url = reverse("datasetversion-detail", args=[dv.pk])
            problems.append(
                f"{dv} holds personal data and has no consent notes; record them "
                f"(PATCH {url} consent_notes)"
            )
    passed, failing = privacy_review_state(version)
    url = reverse("modelversion-evaluations", args=[version.pk])
    if failing:
        problems.append(
            f"the privacy review of {version} is failing: {', '.join(failing)}; post a "
            f"passing result to {url} (kind={EvaluationKind.PRIVACY_REVIEW})"
        )
    elif not passed:
        problems.append(
            f"{version} is trained on personal data and has no passing privacy review; post "
            f"one to {url} (kind={EvaluationKind.PRIVACY_REVIEW})"
        )
    if problems:
        return CheckResult(CHECK, False, "; ".join(problems))
    count = len(found.dataset_versions)
    return CheckResult(
        CHECK,
        True,
        f"Trained on personal data ({count} dataset version(s)): consent notes recorded and "
        "the privacy review passed.",
    )
