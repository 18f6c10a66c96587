"""Containment's rollback: ask the gate for a rollback request that puts back the
version that was live before the incident's deployment. The gate judges it under
the ``rollback`` decision right with the checks that apply to rollbacks (training
data not revoked or quarantined, version not retired, no uncontained critical
incident on that version); the deploy pipeline picks it up through the gate API
like any other request and reports the deployment done. Asking again while the
rollback request is open returns it."""

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import record_decision
from playbooks.choices import TimelineKind
from playbooks.services.common import IncidentConflict, add_entry
from registry.choices import DeploymentState
from registry.gate import services as gate
from registry.models import Deployment
from registry.services import previous_deployment

# The deployment live in the same environment before a deployment, of another version.
previous_live = previous_deployment


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
    """Ask the gate for a rollback request to the previous live version (or get back
    the open one)."""
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
            deployment_request, created = gate.request_rollback(
                model_version=previous.model_version,
                environment=current.environment,
                user=user,
                note=f"Containment of incident #{incident.pk}: {incident.title}",
                now=now,
            )
    except gate.GateRefused as exc:
        raise IncidentConflict(str(exc), field="rollback") from None
    except ValidationError as exc:
        raise IncidentConflict("; ".join(exc.messages), field="rollback") from None
    add_entry(
        incident,
        TimelineKind.ROLLBACK,
        f"Rollback {'requested' if created else 'already requested'}: "
        f"{previous.model_version} to {current.environment.name} "
        f"(rollback request #{deployment_request.pk}, {deployment_request.status}).",
        user=user,
        at=now,
        data={
            "deployment_request": deployment_request.pk,
            "kind": deployment_request.kind,
            "created": created,
            "model_version": previous.model_version_id,
            "environment": current.environment.name,
            "status": deployment_request.status,
        },
    )
    record_decision(
        "incident.rollback_request",
        incident,
        deployment_request=deployment_request.pk,
        created=created,
        from_version=current.model_version_id,
        to_version=previous.model_version_id,
        environment=current.environment.name,
    )
    return deployment_request
