"""Data migration: default decision rights for rollbacks.

A rollback puts back a version that was approved and live in that environment
before; incident response needs it fast, so:

- development and staging: no approval needed;
- production: one approver, whatever the risk tier (a deployment of a high-tier
  model needs two; the version being put back already had them);
- unacceptable-tier models: forbidden (they never served).

Separation of duties applies (the requester may not approve their own
rollback); an approval stays valid for one day. Admins change these in the admin
(Decision rights); each change is audited.
"""

from datetime import timedelta

from django.db import migrations

NO_APPROVAL: list = []
ONE = [{"role": "approver", "count": 1}]

RIGHTS = [
    # (environment, risk tier, required approvals, forbidden, description)
    ("development", "", NO_APPROVAL, False, "Rollback in development needs no approval."),
    ("staging", "", NO_APPROVAL, False, "Rollback in staging needs no approval."),
    ("production", "", ONE, False, "Rollback in production: one approver, any tier."),
    (None, "unacceptable", NO_APPROVAL, True, "Unacceptable-tier models never serve."),
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
            action="rollback",
            environment=environment,
            risk_tier=tier,
            model=None,
            defaults={
                "required_approvals": required,
                "forbidden": forbidden,
                "separation_of_duties": True,
                "approval_valid_for": timedelta(days=1),
                "description": description,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0010_deployment_request_kind_and_one_open")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
