"""The risk register's sections of the board's decision page (registered in
``RiskConfig.ready``): the evaluations the version's tier requires and its results,
the risks linked to it with their levels and acceptances, and how its evaluations
compare with the version live now in the request's environment.

Each section reads a bounded number of queries, whatever the number of rows.
"""

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone

from accounts.permissions import scope_queryset
from registry.gate.ui import ROW_LINK, ROW_TONE, Section, board_section, live_deployment
from risk.checks import KIND_LABELS, required_kinds, risks_concerning
from risk.choices import AcceptanceStatus, RiskLevel
from risk.models import Evaluation, Risk, RiskAcceptance

LIVE_ACCEPTANCE = (AcceptanceStatus.REQUESTED, AcceptanceStatus.ACCEPTED)


def score(risk, prefix: str) -> str:
    """ "high (4x3)": the stored level and the likelihood x impact it comes from."""
    level = getattr(risk, f"{prefix}_level")
    return f"{level} ({getattr(risk, f'{prefix}_likelihood')}x{getattr(risk, f'{prefix}_impact')})"


def _results(model_version) -> list[Evaluation]:
    return list(
        Evaluation.objects.filter(model_version=model_version)
        .select_related("reviewer")
        .order_by("kind", "name", "-created_at", "-pk")
    )


def _latest_per_case(results) -> dict[tuple[str, str], Evaluation]:
    latest = {}
    for evaluation in results:  # newest first within a case
        latest.setdefault((evaluation.kind, evaluation.name), evaluation)
    return latest


@board_section("evaluations", order=100)
def evaluations(deployment_request, user) -> Section:
    """Required kinds per tier with their state, then every result (latest per test case)."""
    version = deployment_request.model_version
    tier = version.model.risk_tier
    kinds = required_kinds(tier)
    latest = _latest_per_case(_results(version))
    rows = []
    missing = failing = 0
    for kind in kinds:
        cases = [e for (k, _), e in latest.items() if k == kind]
        if not cases:
            missing += 1
            rows.append(
                {
                    "kind": f"{KIND_LABELS.get(kind, kind)} (required)",
                    "test case": "—",
                    "result": "missing",
                    ROW_TONE: "bad",
                }
            )
    for (kind, name), e in sorted(latest.items()):
        required = kind in kinds
        if required and not e.passed:
            failing += 1
        rows.append(
            {
                "kind": KIND_LABELS.get(kind, kind) + (" (required)" if required else ""),
                "test case": name,
                "result": e.outcome,
                "criterion": e.success_criterion,
                "reviewer": e.reviewer.get_username() if e.reviewer_id else "",
                "when": f"{e.created_at:%Y-%m-%d %H:%M}",
                ROW_TONE: "ok" if e.passed else "bad",
            }
        )
    required_text = ", ".join(KIND_LABELS.get(k, k) for k in kinds) or "none"
    gaps = missing + failing
    return Section(
        "Evaluations",
        columns=["kind", "test case", "result", "criterion", "reviewer", "when"],
        rows=rows,
        note=f"The {tier} tier requires: {required_text}. Latest result per test case.",
        empty="No evaluation result is posted for this version.",
        summary=(
            f"{missing} required kind{'s' if missing != 1 else ''} missing, {failing} failing"
            if gaps
            else f"{len(latest)} test case{'s' if len(latest) != 1 else ''}, required kinds pass"
        ),
        tone="alert" if gaps else "",
    )


@board_section("risks", order=110)
def risks(deployment_request, user) -> Section:
    """Live risks linked to the model, the version or a deployment of the model, with
    their levels, appetite and acceptance (valid, requested, expired or none)."""
    now = timezone.now()
    version = deployment_request.model_version
    acceptances = Prefetch(
        "acceptances",
        queryset=RiskAcceptance.objects.order_by("-requested_at", "-pk"),
        to_attr="acceptance_list",
    )
    linked = scope_queryset(Risk.objects.all(), user).filter(
        pk__in=risks_concerning(version).values("pk")
    )
    rows = []
    above = 0
    for risk in linked.select_related("owner").prefetch_related(acceptances).order_by("pk"):
        current = next((a for a in risk.acceptance_list if a.status in LIVE_ACCEPTANCE), None)
        if current is not None and current.is_valid(now):
            acceptance = f"accepted until {current.expires_at:%Y-%m-%d}"
        elif current is not None and current.status == AcceptanceStatus.ACCEPTED:
            acceptance = f"expired on {current.expires_at:%Y-%m-%d}"
        elif current is not None:
            acceptance = "requested, awaiting approvers"
        else:
            acceptance = "none"
        over = RiskLevel.rank(risk.residual_level) > RiskLevel.rank(risk.appetite)
        unaccepted = over and not (current is not None and current.is_valid(now))
        above += unaccepted
        rows.append(
            {
                "risk": f"#{risk.pk} {risk.title}",
                "inherent": score(risk, "inherent"),
                "residual": score(risk, "residual"),
                "appetite": risk.appetite + (" — above" if over else ""),
                "acceptance": acceptance,
                "owner": risk.owner.get_username(),
                ROW_TONE: "bad" if unaccepted else ("warn" if over else ""),
                ROW_LINK: reverse("ui-risk-detail", args=[risk.pk]),
            }
        )
    return Section(
        "Risks",
        columns=["risk", "inherent", "residual", "appetite", "acceptance", "owner"],
        rows=rows,
        note="Live risks linked to the model, to this version or to a deployment of the model.",
        empty="No live risk is linked to this model or version.",
        summary=(
            f"{above} above appetite without a valid acceptance"
            if above
            else f"{len(rows)} linked, all within appetite or accepted"
        ),
        tone="alert" if above else "",
    )


@board_section("evaluation-changes", order=100)
def evaluation_changes(deployment_request, user) -> Section | None:
    """Test case by test case: the latest result of the version live now against this
    version's (nothing when nothing else is live there, or it is this version)."""
    live = live_deployment(deployment_request)
    version = deployment_request.model_version
    if live is None or live.model_version_id == version.pk:
        return None
    before = _latest_per_case(_results(live.model_version))
    after = _latest_per_case(_results(version))
    rows = []
    for case in sorted(set(before) | set(after)):
        old, new = before.get(case), after.get(case)
        if old is None:
            change, tone = "new test case", "" if new.passed else "bad"
        elif new is None:
            change, tone = "not run for this version", "warn"
        elif old.passed and not new.passed:
            change, tone = "passed before, fails now", "bad"
        elif not old.passed and new.passed:
            change, tone = "fixed", "ok"
        else:
            change, tone = "same outcome", ""
        rows.append(
            {
                "kind": KIND_LABELS.get(case[0], case[0]),
                "test case": case[1],
                f"live @{live.model_version.version}": old.outcome if old else "—",
                f"this @{version.version}": new.outcome if new else "—",
                "change": change,
                ROW_TONE: tone,
            }
        )
    return Section(
        "Evaluations against the live version",
        columns=[
            "kind",
            "test case",
            f"live @{live.model_version.version}",
            f"this @{version.version}",
            "change",
        ],
        rows=rows,
        empty="Neither version has evaluation results.",
        group="changes",
    )


# --- sections of the risk page, registered by the apps above ---------------------------

_risk_sections: dict[str, tuple[int, object]] = {}


def risk_page_section(name: str, order: int = 100):
    """Register ``func(risk, user) -> Section | None`` for the risk page (the playbooks
    app adds the incidents linked to the risk this way)."""

    def decorator(func):
        _risk_sections[name] = (order, func)
        return func

    return decorator


def risk_sections_for(risk, user) -> list[Section]:
    """Every registered risk-page section's answer, in order, ``None``s left out."""
    sections = []
    for name, (_, func) in sorted(_risk_sections.items(), key=lambda item: item[1][0]):
        section = func(risk, user)
        if section is not None:
            section.anchor = section.anchor or f"section-{name}"
            sections.append(section)
    return sections
