"""The gate check this app registers: no open critical incident on the model.

An incident blocks new deployments of its model while it is open or
acknowledged; once contained (the harm is stopped), deployments may go ahead,
for example the fix. A rollback request is blocked only by an uncontained
critical incident on the version it puts back (named on the incident, or on its
deployment): the incident that prompts the rollback is on the version serving now.
"""

from django.db.models import Q

from playbooks.choices import UNCONTAINED_STATUSES, Severity
from playbooks.models import Incident
from registry.choices import RequestKind
from registry.gate.checks import CheckResult, GateContext, gate_check

NAME = "no-open-critical-incident"


@gate_check(NAME, order=300)
def no_open_critical_incident(deployment_request, context: GateContext) -> CheckResult:
    model = context.model
    incidents = Incident.objects.filter(
        model=model, severity=Severity.CRITICAL, status__in=UNCONTAINED_STATUSES
    )
    rollback = context.kind == RequestKind.ROLLBACK
    version = context.version
    if rollback:
        incidents = incidents.filter(
            Q(model_version=version) | Q(deployment__model_version=version)
        )
    blocking = list(incidents.order_by("opened_at").values_list("pk", "title")[:5])
    subject = str(version) if rollback else model.name
    if blocking:
        named = "; ".join(f"#{pk} {title}" for pk, title in blocking)
        return CheckResult(
            NAME,
            False,
            f"{subject} has an uncontained critical incident ({named}); contain it first.",
        )
    return CheckResult(NAME, True, f"{subject} has no uncontained critical incident.")
