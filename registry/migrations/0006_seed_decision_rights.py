"""Data migration: default decision rights for deployments.

- development and staging: no approval needed;
- production: one approver for minimal- and limited-tier models, two distinct
  approvers for high-tier models;
- unacceptable-tier models: forbidden in every environment.

Separation of duties applies everywhere; approvals stay valid for 14 days.
Admins change these in the admin (Decision rights); each change is audited.
"""

from datetime import timedelta

from django.db import migrations

NO_APPROVAL: list = []
ONE = [{"role": "approver", "count": 1}]
TWO = [{"role": "approver", "count": 2}]

RIGHTS = [
    # (environment, risk tier, required approvals, forbidden, description)
    ("development", "", NO_APPROVAL, False, "Development needs no approval."),
    ("staging", "", NO_APPROVAL, False, "Staging needs no approval."),
    ("production", "", ONE, False, "Production: one approver (minimal and limited tiers)."),
    ("production", "minimal", ONE, False, "Production, minimal tier: one approver."),
    ("production", "limited", ONE, False, "Production, limited tier: one approver."),
    ("production", "high", TWO, False, "Production, high tier: two distinct approvers."),
    (None, "unacceptable", NO_APPROVAL, True, "Unacceptable-tier models never deploy."),
]


def seed(apps, schema_editor):
    DecisionRight = apps.get_model("registry", "DecisionRight")
    Environment = apps.get_model("registry", "Environment")
    for env_name, tier, required, forbidden, description in RIGHTS:
        environment = None
        if env_name is not None:
            environment = Environment.objects.filter(name=env_name).first()
            if environment is None:
                continue
        DecisionRight.objects.get_or_create(
            action="deploy",
            environment=environment,
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
    dependencies = [("registry", "0005_gate")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
