"""Demo data for ``make run``: deployment requests the board can act on at once.

- the pipeline asks to ship ``loan-default@3`` (high tier) to production; the
  demo user ``approver`` has approved, ``approver2`` can give the second
  approval in the board UI;
- ``support-triage``'s newest version goes to staging, where no approval is needed;
- ``account-takeover`` to production is refused (incomplete card, unhashed input).

Runs after the other apps' seeders (their checks have their data); asks only
once per version and environment, so running it again changes nothing.
"""

from accounts.demo import register
from audit.context import acting_as
from registry.gate import services
from registry.models import DeploymentRequest, Environment, ModelVersion

REQUESTS = [
    # (model, version or None for the newest, environment, approve as)
    ("loan-default", "3", "production", ["approver"]),
    ("support-triage", None, "staging", []),
    ("account-takeover", None, "production", []),
]


@register(order=50)
def seed_gate(context: dict) -> None:
    users = context["users"]
    pipeline = users.get("pipeline")
    if pipeline is None:
        return
    for model_name, label, environment_name, approvers in REQUESTS:
        versions = ModelVersion.objects.filter(model__name=model_name).select_related("model")
        version = (
            versions.filter(version=label).first()
            if label
            else versions.order_by("-created_at", "-pk").first()
        )
        environment = Environment.objects.filter(name=environment_name).first()
        if version is None or environment is None:
            continue
        asked = DeploymentRequest.objects.filter(model_version=version, environment=environment)
        if asked.exists():
            continue
        with acting_as(pipeline):
            request = services.create_request(
                model_version=version,
                environment=environment,
                user=pipeline,
                pipeline_run_url=f"https://ci.example.com/{model_name}/pipelines/101",
                commit="4be1f0c",
            )
        for username in approvers:
            approver = users.get(username)
            if approver is None:
                continue
            with acting_as(approver):
                try:
                    services.approve(request.pk, approver, "Card, lineage and risks reviewed.")
                except (services.GateRefused, services.GateConflict):
                    continue
