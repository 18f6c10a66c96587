"""Data migration: before the database allows one open deployment request per
version and environment (the next migration), close the duplicates that re-run
pipelines opened: for each version and environment the newest open request stays
open, the older ones become superseded (audited as such by the gate from now on;
here their reasons say why)."""

from django.db import migrations


def close_duplicates(apps, schema_editor):
    DeploymentRequest = apps.get_model("registry", "DeploymentRequest")
    open_requests = DeploymentRequest.objects.filter(
        status__in=["pending", "approved"], outcome=""
    ).order_by("model_version_id", "environment_id", "-created_at", "-pk")
    newest = {}
    for request in open_requests.only("pk", "model_version_id", "environment_id", "reasons"):
        key = (request.model_version_id, request.environment_id)
        if key not in newest:
            newest[key] = request.pk
            continue
        request.status = "superseded"
        request.reasons = [
            f"superseded by request #{newest[key]}: one request stays open per version "
            "and environment"
        ]
        request.save(update_fields=["status", "reasons"])


class Migration(migrations.Migration):
    dependencies = [("registry", "0008_decisionright_change_report_deadline")]

    operations = [migrations.RunPython(close_duplicates, migrations.RunPython.noop)]
