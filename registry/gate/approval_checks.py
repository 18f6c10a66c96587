"""The gate's own checks: a decision right permits the deployment, and its required
approvals are present, valid and not lapsed. Imported from ``RegistryConfig.ready``.

Both judge every kind of request: a rollback is judged under the ``rollback``
decision right (``DeploymentRequest.action``). They read the judgement's
``GateContext`` (the matching right, the counted approvals, separation-of-duties
conflicts), so each judgement looks the right up once.
"""

from registry.choices import RequestKind
from registry.gate import decisions
from registry.gate.checks import CheckResult, GateContext, gate_check

POLICY = "decision-right"
APPROVALS = "approvals-complete"


def _not_eligible(context: GateContext) -> str:
    """Who separation of duties excludes, by name: the known people with their reason,
    then the run's other authors as lineage names them."""
    version = context.version
    known = {a.approver_id: a.approver for a in context.approvals}
    if version.registered_by_id:
        known[version.registered_by_id] = version.registered_by
    if context.requested_by is not None:
        known[context.requested_by.pk] = context.requested_by
    people = [known[uid] for uid in context.conflicts if uid in known]
    named = [
        f"{known[uid].get_username() if uid in known else f'user #{uid}'} ({reason})"
        for uid, reason in sorted(context.conflicts.items())
    ]
    named += [
        f"{name} (authored the training run)"
        for name in dict.fromkeys(context.run_authors)
        if not any(decisions.is_named(person, [name]) for person in people)
    ]
    return ", ".join(named)


def _scope(context: GateContext) -> str:
    model = context.model
    verb = "rolling back" if context.kind == RequestKind.ROLLBACK else "deploying"
    return f"{verb} {model.risk_tier}-tier model {model.name} to {context.environment.name}"


@gate_check(POLICY, order=10)
def decision_right_permits(deployment_request, context: GateContext) -> CheckResult:
    """A decision right must cover the deployment, and must not forbid it."""
    right = context.right
    if right is None:
        return CheckResult(
            POLICY,
            False,
            f"No decision right covers {_scope(context)}; an admin adds one "
            "under Admin > Decision rights.",
        )
    if right.forbidden:
        return CheckResult(
            POLICY,
            False,
            f"Policy forbids {_scope(context)} (decision right #{right.pk}: "
            f"{right}); no approval can change that.",
            final=True,
        )
    return CheckResult(POLICY, True, f"Decision right #{right.pk} applies: {right}.")


@gate_check(APPROVALS, order=900)
def approvals_complete(deployment_request, context: GateContext) -> CheckResult:
    """Distinct, eligible approvers in the numbers the decision right requires."""
    if context.right is None:
        return CheckResult(APPROVALS, False, "No decision right says who must approve.")
    if context.right.forbidden:
        return CheckResult(APPROVALS, False, "Approvals cannot allow a forbidden deployment.")
    if not context.requirements:
        return CheckResult(APPROVALS, True, "No approval is required here.")
    complete, missing = decisions.tally(
        context.right,
        context.approvals,
        context.conflicts,
        context.now,
        requirements=context.requirements,
    )
    approvers = sorted(
        {
            a.approver.get_username()
            for a in context.approvals
            if a.verdict == "approve" and a.approver_id not in context.conflicts
        }
    )
    by = f"approved by {', '.join(approvers)}" if approvers else "no valid approval yet"
    if complete:
        return CheckResult(APPROVALS, True, f"Approvals complete: {by}.")
    sentence = f"Needs {' and '.join(missing)}; {by}."
    model = context.model
    sentence += (
        f" An approver with the approve right on {model.name} approves in the board UI "
        "or with POST .../approve."
    )
    if context.conflicts or context.run_authors:
        sentence += f" Separation of duties: not eligible: {_not_eligible(context)}."
    if context.lapse_reason:
        sentence = f"{context.lapse_reason}. {sentence}"
    return CheckResult(APPROVALS, False, sentence)
