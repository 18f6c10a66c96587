"""The gate check this app registers: no open critical incident on the model.

An incident blocks new deployments of its model while it is open or
acknowledged; once contained (the harm is stopped), deployments may go ahead,
for example the fix. A rollback request is blocked only by an uncontained
critical incident on the version it puts back (named on the incident, or on its
deployment): the incident that prompts the rollback is on the version serving now.
"""

from django.db.models import Exists, Q

from playbooks.choices import UNCONTAINED_STATUSES, Severity
from playbooks.models import Incident
from registry.choices import RequestKind
from registry.gate.checks import CheckResult, GateContext, gate_check, gate_fact

NAME = "no-open-critical-incident"
UNCONTAINED_CRITICAL = "playbooks.uncontained-critical-incident"


def uncontained_critical(model_id):
    return Incident.objects.filter(
        model=model_id, severity=Severity.CRITICAL, status__in=UNCONTAINED_STATUSES
    )


@gate_fact(UNCONTAINED_CRITICAL)
def uncontained_critical_fact(version):
    """Whether the version's model has an uncontained critical incident (of any version):
    when not, neither kind of request is blocked and the check reads nothing more."""
    return Exists(uncontained_critical(version("model_id")))


@gate_check(NAME, order=300)
def no_open_critical_incident(deployment_request, context: GateContext) -> CheckResult:
    model = context.model
    rollback = context.kind == RequestKind.ROLLBACK
    version = context.version
    blocking = []
    if context.facts.get(UNCONTAINED_CRITICAL) is not False:
        incidents = uncontained_critical(model.pk)
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
