"""Data migration: the default decision right for publishing a model's public card.

Publishing tells the public what a model is for and what it cannot do, so one
approver of the model's team decides, never the person who asked (separation of
duties); an approval stays valid for 14 days. Unacceptable-tier models never get a
public card. Admins change these in the admin (Decision rights); each change is
audited.
"""

from datetime import timedelta

from django.db import migrations

ONE = [{"role": "approver", "count": 1}]

RIGHTS = [
    # (risk tier, required approvals, forbidden, description)
    ("", ONE, False, "Publishing a public card: one approver, not the requester."),
    ("unacceptable", [], True, "Unacceptable-tier models get no public card."),
]


def seed(apps, schema_editor):
    DecisionRight = apps.get_model("registry", "DecisionRight")
    for tier, required, forbidden, description in RIGHTS:
        DecisionRight.objects.get_or_create(
            action="publish-card",
            environment=None,
            risk_tier=tier,
            model=None,
            defaults={
                "required_approvals": required,
                "forbidden": forbidden,
                "separation_of_duties": True,
                "approval_valid_for": timedelta(days=14),
                "description": description,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0014_public_card")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
