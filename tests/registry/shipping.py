"""Deployment history for tests of other subjects.

A protected environment takes a version only through an approved deployment
request (``registry.services.deploy`` refuses anything else). Tests whose
subject is not the gate (impact, metrics, incidents...) still need versions
that served in production: ``ship`` records one the way the gate leaves it, an
approved request reported deployed. The gate's own checks and approvals are
tested through the gate in ``tests/gate``.
"""

from django.utils import timezone

from registry import services
from registry.choices import RequestKind, RequestOutcome, RequestStatus
from registry.models import DeploymentRequest


def approved_request(version, environment, user, *, kind=RequestKind.DEPLOY, now=None):
    """A request the board approved for exactly ``version`` and ``environment``."""
    return DeploymentRequest.objects.create(
        kind=kind,
        model_version=version,
        environment=environment,
        requested_by=user,
        status=RequestStatus.APPROVED,
        decided_at=now or timezone.now(),
        fingerprint="0" * 64,
    )


def ship(version, environment, user, *, now=None, note=""):
    """Make ``version`` live in ``environment``: directly where it is unprotected, else
    through an approved request that is then reported deployed."""
    if not environment.protected:
        return services.deploy(version, environment, user, now=now, note=note)
    request = approved_request(version, environment, user, now=now)
    deployment = services.deploy(
        version, environment, user, deployment_request=request, now=now, note=note
    )
    DeploymentRequest.objects.filter(pk=request.pk).update(
        outcome=RequestOutcome.DEPLOYED, deployment=deployment, reported_at=deployment.deployed_at
    )
    return deployment
