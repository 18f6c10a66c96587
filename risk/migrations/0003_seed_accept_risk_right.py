"""Data migration: the default decision right for accepting a risk.

One approver of the owning team (the approver role plus the approve right on
each model the risk concerns), never the risk's owner or the person who asked
(separation of duties); an approval counts for 14 days. For high-tier models,
two distinct approvers. Admins change these under Admin > Decision rights.
"""

from datetime import timedelta

from django.db import migrations

RIGHTS = [
    # (risk tier, required approvals, description)
    ("", [{"role": "approver", "count": 1}], "Accepting a risk: one approver."),
    ("high", [{"role": "approver", "count": 2}], "Accepting a risk on a high-tier model: two approvers."),
]


def seed(apps, schema_editor):
    DecisionRight = apps.get_model("registry", "DecisionRight")
    for tier, required, description in RIGHTS:
        DecisionRight.objects.get_or_create(
            action="accept-risk",
            environment=None,
            risk_tier=tier,
            model=None,
            defaults={
                "required_approvals": required,
                "separation_of_duties": True,
                "approval_valid_for": timedelta(days=14),
                "description": description,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0002_seed_matrix_and_required_evaluations"),
        ("registry", "0005_gate"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
