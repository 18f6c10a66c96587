"""The catalog's gate checks and fingerprint parts (see ``registry.gate.checks``).

- ``model-card-complete``: every model card field is filled.
- ``training-data-complete``: lineage knows the version's training data, each
  dataset version has a content hash and none is quarantined or revoked. Final:
  the training data of a version never changes, only a new version fixes it.
- ``version-not-retired``: a retired version never serves again. Final.
- ``rollback-target``: (rollbacks only) the version was approved and live in the
  environment before, and is not live there now. Final.

Rollbacks are judged by the training-data and retired checks too (revoked or
quarantined data, a retired version block them); the card check judges
deployments only (the card a version shipped with is on record).

The fingerprint parts tie an approval to what the approver saw: the training
data (ids, hashes, statuses) and the model card.
"""

from registry import services
from registry.choices import ModelVersionStatus, RequestKind
from registry.gate.checks import CheckResult, GateContext, fingerprint_part, gate_check


@gate_check("model-card-complete", order=10, kinds=(RequestKind.DEPLOY,))
def model_card_complete(deployment_request, context: GateContext) -> CheckResult:
    model = context.model
    missing = model.card_missing
    if missing:
        fields = ", ".join(name.replace("_", " ") for name in missing)
        return CheckResult(
            "model-card-complete", False, f"The model card of {model.name} lacks: {fields}."
        )
    return CheckResult("model-card-complete", True, f"The model card of {model.name} is complete.")


@gate_check("training-data-complete", order=20)
def training_data_complete(deployment_request, context: GateContext) -> CheckResult:
    verdict = context.training_data
    if not verdict.complete:
        return CheckResult(
            "training-data-complete",
            False,
            "Training data incomplete: " + " ".join(verdict.problems),
            final=True,
        )
    count = len(verdict.dataset_versions)
    return CheckResult(
        "training-data-complete",
        True,
        f"{count} upstream dataset version(s), all hashed and active.",
    )


@gate_check("version-not-retired", order=5)
def version_not_retired(deployment_request, context: GateContext) -> CheckResult:
    version = context.version
    if version.status == ModelVersionStatus.RETIRED:
        return CheckResult(
            "version-not-retired", False, f"{version} is retired and may not serve.", final=True
        )
    return CheckResult("version-not-retired", True, f"{version} is {version.status}.")


@gate_check("rollback-target", order=6, kinds=(RequestKind.ROLLBACK,))
def rollback_target(deployment_request, context: GateContext) -> CheckResult:
    version = context.version
    environment = context.environment
    refusal = services.rollback_refusal(version, environment)
    if refusal:
        return CheckResult("rollback-target", False, refusal, final=True)
    return CheckResult(
        "rollback-target",
        True,
        f"{version} was approved and live in {environment.name} before.",
    )


@fingerprint_part("lineage")
def lineage_fingerprint(model_version) -> list:
    return sorted(
        [dv.pk, dv.content_hash or "", dv.status] for dv in services.training_data(model_version)
    )


@fingerprint_part("card")
def card_fingerprint(model_version) -> dict:
    model = model_version.model
    return {name: getattr(model, name) for name in model.CARD_FIELDS}
