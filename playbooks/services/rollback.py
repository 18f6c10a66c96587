"""Containment's rollback: ask the gate to deploy the version that was live before
the incident's deployment. The deploy pipeline picks the request up through the
gate API like any other and reports the deployment done."""

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import record_decision
from playbooks.choices import TimelineKind
from playbooks.services.common import IncidentConflict, add_entry
from registry.choices import DeploymentState
from registry.gate import services as gate
from registry.models import Deployment


def previous_live(deployment: Deployment) -> Deployment | None:
    """The deployment live in the same environment just before ``deployment``, of a
    different version (the deployment history, newest first)."""
    if (
        deployment.replaced_id
        and deployment.replaced.model_version_id != deployment.model_version_id
    ):
        return deployment.replaced
    return (
        Deployment.objects.select_related("model_version")
        .filter(
            model_id=deployment.model_id,
            environment_id=deployment.environment_id,
            deployed_at__lt=deployment.deployed_at,
        )
        .exclude(model_version_id=deployment.model_version_id)
        .exclude(state=DeploymentState.FAILED)
        .order_by("-deployed_at", "-pk")
        .first()
    )


def _current_deployment(incident) -> Deployment | None:
    if incident.deployment_id:
        deployment = incident.deployment
        if deployment.state == DeploymentState.LIVE:
            return deployment
        return (
            Deployment.objects.filter(
                model_id=deployment.model_id,
                environment_id=deployment.environment_id,
                state=DeploymentState.LIVE,
            ).first()
            or deployment
        )
    if incident.environment_name:
        return Deployment.objects.filter(
            model_id=incident.model_id,
            environment__name=incident.environment_name,
            state=DeploymentState.LIVE,
        ).first()
    return None


def request_rollback(incident, user, *, now=None):
    """Create the gate's deployment request for the previous live version."""
    current = _current_deployment(incident)
    if current is None:
        raise IncidentConflict(
            "No deployment is known for this incident, so there is nothing to roll back.",
            field="rollback",
        )
    previous = previous_live(current)
    if previous is None:
        raise IncidentConflict(
            f"No earlier version served {current.model.name} in {current.environment.name}.",
            field="rollback",
        )
    try:
        with transaction.atomic():
            deployment_request = gate.create_request(
                model_version=previous.model_version,
                environment=current.environment,
                user=user,
                commit="",
                pipeline_run_url="",
                now=now,
            )
    except gate.GateRefused as exc:
        raise IncidentConflict(str(exc), field="rollback") from None
    except ValidationError as exc:
        raise IncidentConflict("; ".join(exc.messages), field="rollback") from None
    add_entry(
        incident,
        TimelineKind.ROLLBACK,
        f"Rollback requested: {previous.model_version} to {current.environment.name} "
        f"(deployment request #{deployment_request.pk}, {deployment_request.status}).",
        user=user,
        at=now,
        data={
            "deployment_request": deployment_request.pk,
            "model_version": previous.model_version_id,
            "environment": current.environment.name,
            "status": deployment_request.status,
        },
    )
    record_decision(
        "incident.rollback_request",
        incident,
        deployment_request=deployment_request.pk,
        from_version=current.model_version_id,
        to_version=previous.model_version_id,
        environment=current.environment.name,
    )
    return deployment_request
