"""Data migration: the default 5 x 5 risk matrix and the evaluations each risk tier requires.

Matrix cells are levelled by score = likelihood x impact: 1-4 low, 5-9 medium,
10-16 high, 20-25 critical. Required evaluations:

- high (and unacceptable, should one ever be asked): adversarial, distributional
  stress and human review;
- limited: edge case;
- minimal: none.

Admins change both in the admin; every change is audited.
"""

from django.db import migrations

LIKELIHOOD = ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]
IMPACT = ["Negligible", "Minor", "Moderate", "Major", "Severe"]

REQUIRED = {
    "high": ["adversarial", "distributional-stress", "human-review"],
    "unacceptable": ["adversarial", "distributional-stress", "human-review"],
    "limited": ["edge-case"],
    "minimal": [],
}


def level(score: int) -> str:
    if score <= 4:
        return "low"
    if score <= 9:
        return "medium"
    if score <= 16:
        return "high"
    return "critical"


def seed(apps, schema_editor):
    RiskMatrix = apps.get_model("risk", "RiskMatrix")
    RequiredEvaluation = apps.get_model("risk", "RequiredEvaluation")
    if not RiskMatrix.objects.filter(is_default=True).exists():
        RiskMatrix.objects.get_or_create(
            name="Default 5 x 5",
            defaults={
                "description": "Likelihood x impact; cells levelled by their product.",
                "likelihood_labels": LIKELIHOOD,
                "impact_labels": IMPACT,
                "levels": [[level(lk * im) for im in range(1, 6)] for lk in range(1, 6)],
                "is_default": True,
            },
        )
    for tier, kinds in REQUIRED.items():
        for kind in kinds:
            RequiredEvaluation.objects.get_or_create(risk_tier=tier, kind=kind)


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
