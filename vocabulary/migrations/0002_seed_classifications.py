"""Data migration: the classifications every team shares.

Personal data (mutually exclusive: a record is PII.Sensitive, PII.NonSensitive or
PII.None), the risk tier, the eight high-risk areas of the EU AI Act's Annex III
(not exclusive: a system may serve several) and the data licence class. Admins add
more under Admin > Classifications or through the API.
"""

from django.db import migrations

CLASSIFICATIONS = [
    (
        "PII",
        "Personal data (GDPR Art. 4(1)); Sensitive covers the special categories of Art. 9.",
        True,
        [
            ("Sensitive", "Personal data, including special categories (health, biometrics...)."),
            ("NonSensitive", "Personal data outside the special categories."),
            ("None", "No personal data."),
        ],
    ),
    (
        "RiskTier",
        "The EU AI Act risk tier a record is governed under.",
        True,
        [
            ("Minimal", "Minimal risk."),
            ("Limited", "Limited risk (transparency obligations)."),
            ("High", "High risk (Art. 6, Annex III)."),
            ("Unacceptable", "Prohibited practice (Art. 5)."),
        ],
    ),
    (
        "AnnexIII",
        "The high-risk areas of the EU AI Act, Annex III.",
        False,
        [
            ("Biometrics", "1. Biometrics."),
            ("CriticalInfrastructure", "2. Critical infrastructure."),
            ("Education", "3. Education and vocational training."),
            ("Employment", "4. Employment, workers' management and access to self-employment."),
            ("EssentialServices", "5. Access to essential private and public services and benefits (credit scoring...)."),
            ("LawEnforcement", "6. Law enforcement."),
            ("Migration", "7. Migration, asylum and border control management."),
            ("Justice", "8. Administration of justice and democratic processes."),
        ],
    ),
    (
        "Licence",
        "The licence class of a dataset.",
        True,
        [
            ("Open", "An open licence (CC-BY, ODbL...)."),
            ("Commercial", "Licensed from a vendor under contract."),
            ("Internal", "Produced in-house; internal use."),
            ("Restricted", "Use restricted by contract or law; ask legal."),
        ],
    ),
]


def seed(apps, schema_editor):
    Classification = apps.get_model("vocabulary", "Classification")
    Tag = apps.get_model("vocabulary", "Tag")
    for name, description, exclusive, tags in CLASSIFICATIONS:
        classification, _ = Classification.objects.get_or_create(
            name=name, defaults={"description": description, "mutually_exclusive": exclusive}
        )
        for tag, tag_description in tags:
            Tag.objects.get_or_create(
                classification=classification, name=tag, defaults={"description": tag_description}
            )


class Migration(migrations.Migration):
    dependencies = [("vocabulary", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
