"""The gate check this app registers: no open critical incident on the model.

An incident blocks new deployments of its model while it is open or
acknowledged; once contained (the harm is stopped), deployments may go ahead,
for example the fix or the rollback.
"""

from playbooks.choices import UNCONTAINED_STATUSES, Severity
from playbooks.models import Incident
from registry.gate.checks import CheckResult, gate_check

NAME = "no-open-critical-incident"


@gate_check(NAME, order=300)
def no_open_critical_incident(deployment_request) -> CheckResult:
    model = deployment_request.model_version.model
    blocking = list(
        Incident.objects.filter(
            model=model, severity=Severity.CRITICAL, status__in=UNCONTAINED_STATUSES
        )
        .order_by("opened_at")
        .values_list("pk", "title")[:5]
    )
    if blocking:
        named = "; ".join(f"#{pk} {title}" for pk, title in blocking)
        return CheckResult(
            NAME,
            False,
            f"{model.name} has an uncontained critical incident ({named}); contain it first.",
        )
    return CheckResult(NAME, True, f"{model.name} has no uncontained critical incident.")
