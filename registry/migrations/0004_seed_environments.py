"""Data migration: the three standard environments. Production is protected (gated)."""

from django.db import migrations

ENVIRONMENTS = [
    ("development", 10, False, "Where teams try versions; no approval needed."),
    ("staging", 20, False, "Pre-production checks against production-like data."),
    ("production", 30, True, "Serves customers; only versions that passed the gate."),
]


def seed(apps, schema_editor):
    Environment = apps.get_model("registry", "Environment")
    for name, order, protected, description in ENVIRONMENTS:
        Environment.objects.get_or_create(
            name=name,
            defaults={"order": order, "protected": protected, "description": description},
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_catalog")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
