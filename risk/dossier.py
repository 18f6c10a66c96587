"""The risk register's dossier sections: dated test results (point 2), thresholds
with their hypotheses and recalibrations and the foreseeable risks (point 3), why
the metrics fit (point 4), and the risk-management system: risks with inherent and
residual levels, controls and acceptances (point 5); the monitoring sufficiency of
each risk (point 3) and the heartbeats of the monitors watching them (point 9); the
red-team exercises with this version in scope and their findings (point 2).
Registered in ``RiskConfig.ready``."""

from django.db.models import Prefetch, Q

from registry.dossier import SectionData, Table, dossier_section
from risk import sufficiency
from risk.choices import AcceptanceStatus
from risk.models import (
    Control,
    Evaluation,
    RedTeamExercise,
    RedTeamFinding,
    Risk,
    RiskAcceptance,
    RiskAcceptanceApproval,
    Threshold,
    ThresholdRecalibration,
)


def _user(user) -> str | None:
    return user.username if user is not None else None


def _risks(context):
    """The risks on the model or this version, as they stood, with controls and
    acceptances (one query each), shared by the sections of one dossier."""

    def read():
        version = context.version
        acceptances = context.until(
            RiskAcceptance.objects.select_related("requested_by", "decided_by"), "requested_at"
        ).prefetch_related(
            Prefetch(
                "approvals",
                queryset=context.until(RiskAcceptanceApproval.objects.order_by("created_at")),
            )
        )
        query = (
            context.until(
                Risk.objects.filter(Q(ml_models=context.model) | Q(model_versions=version))
            )
            .distinct()
            .select_related("owner")
            .prefetch_related(
                Prefetch(
                    "controls", queryset=context.until(Control.objects.select_related("owner"))
                ),
                Prefetch("acceptances", queryset=acceptances.order_by("requested_at", "pk")),
            )
            .order_by("created_at", "pk")
        )
        risks = context.stood(
            context.scoped(query),
            (
                "title",
                "hypothesis",
                "inherent_likelihood",
                "inherent_impact",
                "inherent_level",
                "residual_likelihood",
                "residual_impact",
                "residual_level",
                "appetite",
                "treatment",
                "status",
            ),
        )
        context.stood([c for risk in risks for c in risk.controls.all()], ("status",))
        return risks

    return context.once("risk.risks", read)


def _thresholds(context):
    def read():
        version = context.version
        query = (
            context.until(
                Threshold.objects.filter(
                    Q(model_version=version) | Q(deployment__model_version=version)
                )
            )
            .select_related("risk", "deployment__environment")
            .prefetch_related(
                Prefetch(
                    "recalibrations",
                    queryset=ThresholdRecalibration.objects.order_by("created_at", "pk"),
                )
            )
            .order_by("metric", "pk")
        )
        thresholds = list(context.scoped(query, "risk", Risk))
        for threshold in thresholds:
            # The values in force at ``as_of``: the old values of the first recalibration
            # made after it.
            later = [r for r in threshold.recalibrations.all() if context.after(r.created_at)]
            if later:
                threshold.warning_value = later[0].old_warning_value
                threshold.critical_value = later[0].old_critical_value
            threshold.history = [
                r for r in threshold.recalibrations.all() if not context.after(r.created_at)
            ]
        return thresholds

    return context.once("risk.thresholds", read)


def _evaluations(context):
    def read():
        query = context.until(
            Evaluation.objects.filter(model_version=context.version).select_related(
                "reviewer", "submitted_by"
            )
        ).order_by("created_at", "pk")
        return list(context.scoped(query, "model_version__model", type(context.model)))

    return context.once("risk.evaluations", read)


def _scope(threshold) -> str:
    if threshold.deployment_id:
        return f"deployment in {threshold.deployment.environment.name}"
    return "this version"


# --- point 2 --------------------------------------------------------------------------


@dossier_section(
    "risk.evaluations", point=2, title="Validation and testing: dated results", order=30
)
def evaluations(version, context) -> SectionData:
    rows = [
        {
            "date": e.created_at,
            "kind": e.kind,
            "name": e.name + (f" ({e.suite})" if e.suite else ""),
            "hypothesis": e.hypothesis,
            "success_criterion": e.success_criterion,
            "metrics": ", ".join(f"{k}={v}" for k, v in sorted(e.metrics.items())),
            "outcome": e.outcome,
            "reviewer": _user(e.reviewer),
            "evidence": e.evidence_url or e.run_reference,
        }
        for e in _evaluations(context)
    ]
    return SectionData(
        tables=[
            Table(
                "evaluations",
                "Evaluations",
                [
                    ("date", "Date"),
                    ("kind", "Kind"),
                    ("name", "Test"),
                    ("hypothesis", "Hypothesis"),
                    ("success_criterion", "Success criterion"),
                    ("metrics", "Metrics"),
                    ("outcome", "Outcome"),
                    ("reviewer", "Reviewer"),
                    ("evidence", "Evidence"),
                ],
                rows,
                widths=(11, 9, 14, 16, 14, 11, 8, 8, 9),
            )
        ]
    )


# --- point 3 --------------------------------------------------------------------------


@dossier_section("risk.thresholds", point=3, title="Thresholds and their recalibrations", order=20)
def thresholds(version, context) -> SectionData:
    items = _thresholds(context)
    history = [
        {
            "metric": t.metric,
            "at": r.created_at,
            "by": r.changed_by_username,
            "from": f"{r.old_warning_value:g} / {r.old_critical_value:g}",
            "to": f"{r.new_warning_value:g} / {r.new_critical_value:g}",
            "reason": r.reason,
            "source": r.source_label,
        }
        for t in items
        for r in t.history
    ]
    return SectionData(
        tables=[
            Table(
                "thresholds",
                "Thresholds (acceptable deviations)",
                [
                    ("metric", "Metric"),
                    ("scope", "On"),
                    ("comparator", "Bad when"),
                    ("warning", "Warning"),
                    ("critical", "Critical"),
                    ("hypothesis", "Hypothesis"),
                    ("risk", "Risk"),
                ],
                [
                    {
                        "metric": t.metric,
                        "scope": _scope(t),
                        "comparator": t.comparator,
                        "warning": t.warning_value,
                        "critical": t.critical_value,
                        "hypothesis": t.hypothesis,
                        "risk": t.risk.title,
                    }
                    for t in items
                ],
                widths=(14, 13, 8, 8, 8, 30, 19),
            ),
            Table(
                "recalibrations",
                "Recalibration history",
                [
                    ("metric", "Metric"),
                    ("at", "At"),
                    ("by", "By"),
                    ("from", "From (warning / critical)"),
                    ("to", "To"),
                    ("reason", "Reason"),
                    ("source", "Source"),
                ],
                history,
                widths=(12, 14, 9, 13, 10, 27, 15),
            ),
        ]
    )


@dossier_section("risk.foreseeable", point=3, title="Foreseeable risks", order=30)
def foreseeable(version, context) -> SectionData:
    return SectionData(
        items=[
            f"{risk.title} ({risk.get_category_display()}): {risk.hypothesis or risk.description}"
            for risk in _risks(context)
        ]
    )


# --- point 4 --------------------------------------------------------------------------


@dossier_section("risk.metrics-rationale", point=4, title="Why these metrics", order=10)
def metrics_rationale(version, context) -> SectionData:
    rows = [
        {"metric": t.metric, "source": f"threshold on {_scope(t)}", "rationale": t.hypothesis}
        for t in _thresholds(context)
        if t.hypothesis
    ]
    rows += [
        {
            "metric": e.name,
            "source": f"{e.kind} evaluation",
            "rationale": " ".join(
                part
                for part in (
                    e.hypothesis,
                    f"Success criterion: {e.success_criterion}" if e.success_criterion else "",
                )
                if part
            ),
        }
        for e in _evaluations(context)
        if e.hypothesis or e.success_criterion
    ]
    return SectionData(
        tables=[
            Table(
                "rationale",
                "Metrics and their rationale",
                [("metric", "Metric or test"), ("source", "From"), ("rationale", "Rationale")],
                rows,
                widths=(22, 18, 60),
            )
        ]
    )


# --- point 5 --------------------------------------------------------------------------


def _acceptance_status(acceptance, context) -> str:
    if context.after(acceptance.decided_at):
        return AcceptanceStatus.REQUESTED
    return acceptance.status


@dossier_section("risk.register", point=5, title="Risks, controls and acceptances", order=10)
def register(version, context) -> SectionData:
    risks = _risks(context)
    risk_rows, control_rows, acceptance_rows = [], [], []
    for risk in risks:
        risk_rows.append(
            {
                "risk": risk.title,
                "category": risk.category,
                "inherent": f"{risk.inherent_level} "
                f"({risk.inherent_likelihood}x{risk.inherent_impact})",
                "residual": f"{risk.residual_level} "
                f"({risk.residual_likelihood}x{risk.residual_impact})",
                "appetite": risk.appetite,
                "treatment": risk.treatment,
                "status": risk.status,
                "owner": _user(risk.owner),
                "next_review": risk.next_review_date,
            }
        )
        for control in risk.controls.all():
            control_rows.append(
                {
                    "risk": risk.title,
                    "control": control.title,
                    "status": control.status,
                    "owner": _user(control.owner),
                    "evidence": control.evidence_url,
                }
            )
        for acceptance in risk.acceptances.all():
            decided = not context.after(acceptance.decided_at)
            votes = [
                f"{vote.approver_username} {vote.verdict} {vote.created_at:%Y-%m-%d}"
                for vote in acceptance.approvals.all()
            ]
            acceptance_rows.append(
                {
                    "risk": risk.title,
                    "status": _acceptance_status(acceptance, context),
                    "justification": acceptance.justification,
                    "requested": f"{_user(acceptance.requested_by)} "
                    f"{acceptance.requested_at:%Y-%m-%d %H:%M}",
                    "approvals": votes,
                    "decided_by": _user(acceptance.decided_by) if decided else None,
                    "decided_at": acceptance.decided_at if decided else None,
                    "expires_at": acceptance.expires_at,
                }
            )
    return SectionData(
        tables=[
            Table(
                "risks",
                "Risks",
                [
                    ("risk", "Risk"),
                    ("category", "Category"),
                    ("inherent", "Inherent (LxI)"),
                    ("residual", "Residual (LxI)"),
                    ("appetite", "Appetite"),
                    ("treatment", "Treatment"),
                    ("status", "Status"),
                    ("owner", "Owner"),
                    ("next_review", "Next review"),
                ],
                risk_rows,
                widths=(22, 11, 11, 11, 9, 9, 9, 8, 10),
            ),
            Table(
                "controls",
                "Controls",
                [
                    ("risk", "Risk"),
                    ("control", "Control"),
                    ("status", "Status"),
                    ("owner", "Owner"),
                    ("evidence", "Evidence"),
                ],
                control_rows,
                widths=(25, 30, 12, 10, 23),
            ),
            Table(
                "acceptances",
                "Risk acceptances",
                [
                    ("risk", "Risk"),
                    ("status", "Status"),
                    ("justification", "Justification"),
                    ("requested", "Requested"),
                    ("approvals", "Approvals"),
                    ("decided_by", "Decided by"),
                    ("decided_at", "Decided"),
                    ("expires_at", "Expires"),
                ],
                acceptance_rows,
                widths=(15, 9, 22, 13, 15, 8, 9, 9),
            ),
        ]
    )


# --- monitoring sufficiency (points 3 and 9) ----------------------------------------------

AS_OF_NOTE = (
    "Monitoring sufficiency and heartbeats are computed from the monitors' latest "
    "readings; a dossier of an earlier moment (asOf) does not show them."
)


def _sufficiency(context):
    """The sufficiency of each of the dossier's risks, computed at generation."""
    risks = _risks(context)
    return context.once(
        "risk.sufficiency", lambda: sufficiency.reports(risks, context.generated_at)
    )


@dossier_section(
    "risk.monitoring-sufficiency", point=3, title="Monitoring sufficiency of each risk", order=40
)
def monitoring_sufficiency(version, context) -> SectionData:
    if context.as_of is not None:
        return SectionData(text=AS_OF_NOTE)
    found = _sufficiency(context)
    return SectionData(
        text="Computed from each risk's thresholds (and whether they report within their "
        "cadence), the evaluations of its model versions and its controls, at "
        f"{context.generated_at:%Y-%m-%d %H:%M} UTC.",
        tables=[
            Table(
                "sufficiency",
                "Monitoring sufficiency",
                [("risk", "Risk"), ("level", "Level"), ("reasons", "Why not sufficient")],
                [
                    {
                        "risk": risk.title,
                        "level": found[risk.pk].level,
                        "reasons": "; ".join(found[risk.pk].reasons),
                    }
                    for risk in _risks(context)
                ],
                widths=(30, 12, 58),
            )
        ],
    )


@dossier_section("risk.heartbeats", point=9, title="Monitors and their heartbeats", order=15)
def heartbeats(version, context) -> SectionData:
    if context.as_of is not None:
        return SectionData(text=AS_OF_NOTE)
    found = _sufficiency(context)
    rows = [
        {
            "risk": risk.title,
            "metric": state.metric,
            "every": state.expected_every_minutes,
            "state": state.heartbeat,
            "last": state.last_reading_at,
        }
        for risk in _risks(context)
        for state in found[risk.pk].thresholds
    ]
    return SectionData(
        tables=[
            Table(
                "heartbeats",
                "Thresholds watching the risks: expected cadence and last reading",
                [
                    ("risk", "Risk"),
                    ("metric", "Metric"),
                    ("every", "Reading expected every (minutes)"),
                    ("state", "State"),
                    ("last", "Last reading"),
                ],
                rows,
                widths=(28, 20, 16, 14, 22),
            )
        ]
    )


# --- point 2: red-team exercises ----------------------------------------------------


@dossier_section("risk.redteam", point=2, title="Red-team exercises and their findings", order=40)
def redteam_exercises(version, context) -> SectionData:
    """The exercises that had this version in scope, and what each revealed: severity,
    the risk it raised, the red-team evaluation that tests its fix and where it stood."""
    exercises = list(
        context.stood(
            context.scoped(
                context.until(RedTeamExercise.objects.filter(model_versions=version))
            ).order_by("starts_on", "pk"),
            ("status", "ends_on"),
        )
    )
    findings = list(
        context.stood(
            context.until(RedTeamFinding.objects.filter(exercise__in=[e.pk for e in exercises]))
            .select_related("exercise", "risk")
            .order_by("exercise__starts_on", "pk"),
            ("status", "severity"),
        )
    )
    return SectionData(
        tables=[
            Table(
                "exercises",
                "Exercises",
                [
                    ("exercise", "Exercise"),
                    ("dates", "Dates"),
                    ("scope", "Scope"),
                    ("method", "Method"),
                    ("status", "Status"),
                ],
                [
                    {
                        "exercise": e.title,
                        "dates": f"{e.starts_on:%Y-%m-%d}"
                        + (f" to {e.ends_on:%Y-%m-%d}" if e.ends_on else ""),
                        "scope": e.scope,
                        "method": e.method,
                        "status": e.status,
                    }
                    for e in exercises
                ],
                widths=(20, 16, 28, 26, 10),
            ),
            Table(
                "findings",
                "Findings",
                [
                    ("exercise", "Exercise"),
                    ("finding", "Finding"),
                    ("severity", "Severity"),
                    ("risk", "Risk raised"),
                    ("evaluation", "Fix tested by (red-team evaluation)"),
                    ("status", "Status"),
                ],
                [
                    {
                        "exercise": f.exercise.title,
                        "finding": f.title,
                        "severity": f.severity,
                        "risk": f.risk.title,
                        "evaluation": f"{f.evaluation_name}: {f.success_criterion}",
                        "status": f.status,
                    }
                    for f in findings
                ],
                widths=(16, 22, 9, 18, 25, 10),
            ),
        ]
    )
