"""The public card's evaluations section: the evaluation kinds the version in service
passed, by kind only (no names, values, datasets or reviewers). A kind counts when the
latest result of each of its evaluations (by name) passed, as the gate reads them."""

from registry.cards import public_section
from risk.choices import EvaluationKind
from risk.models import Evaluation


@public_section("evaluations_passed", order=200, template="risk/public/evaluations.html")
def passed_kinds(card, deployment) -> list[dict]:
    if deployment is None:
        return []
    latest: dict[tuple[str, str], bool] = {}
    rows = (
        Evaluation.objects.filter(model_version=deployment.model_version)
        .order_by("created_at", "pk")
        .values_list("kind", "name", "passed")
    )
    for kind, name, passed in rows:
        latest[(kind, name)] = passed
    kinds: dict[str, bool] = {}
    for (kind, _), passed in latest.items():
        kinds[kind] = kinds.get(kind, True) and passed
    labels = dict(EvaluationKind.choices)
    return [
        {"kind": kind, "label": labels.get(kind, kind)} for kind in sorted(kinds) if kinds[kind]
    ]
