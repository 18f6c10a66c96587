"""Red-team verbs: plan and run exercises, record findings with the risk they raise,
follow each finding to fixed (its red-team evaluation passes) or accepted (its risk's
acceptance is granted), and remind teams whose high-tier models are due an exercise.

Every change is audited in its transaction (creates and edits through
``audit.tracking``, status moves through ``record_decision``); a change that moves a
finding or the versions in scope re-judges the open deployment requests of those
versions, so the gate's ``redteam-findings`` check is recorded when it changes.
"""

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.text import slugify

from accounts import notify
from accounts.permissions import grant_team_access
from audit.services import record_decision
from registry.gate import services as gate
from registry.models import MLModel, ModelVersion
from risk import services as risk_services
from risk.choices import (
    AcceptanceStatus,
    EvaluationKind,
    ExerciseStatus,
    FindingStatus,
    RiskCategory,
)
from risk.models import (
    Evaluation,
    RedTeamExercise,
    RedTeamFinding,
    RedTeamReminder,
    Risk,
    RiskAcceptance,
)

log = logging.getLogger(__name__)


# --- exercises ---------------------------------------------------------------


def save_exercise(
    exercise: RedTeamExercise, *, model_versions=None, participants=None, user=None
) -> RedTeamExercise:
    """Plan an exercise (the owning team gets its view, change and delete rights) or
    edit one; a status move follows ``EXERCISE_TRANSITIONS`` (``RedTeamExercise.clean``)."""
    creating = exercise.pk is None
    with transaction.atomic():
        if not creating:
            RedTeamExercise.objects.select_for_update().filter(pk=exercise.pk).first()
        before = set()
        if not creating:
            before = set(exercise.model_versions.values_list("pk", flat=True))
        if creating and user is not None and exercise.created_by_id is None:
            exercise.created_by = user
        exercise.full_clean()
        exercise.save()
        if model_versions is not None:
            exercise.model_versions.set(model_versions)
        if participants is not None:
            exercise.participants.set(participants)
        if creating:
            grant_team_access(exercise, exercise.team)
        after = set(exercise.model_versions.values_list("pk", flat=True))
        if (before | after) and exercise.findings.exists():
            gate.rejudge_open(model_version_ids=sorted(before | after))
    return exercise


# --- findings ----------------------------------------------------------------


@dataclass(frozen=True)
class NewRisk:
    """The risk a finding creates: its title and scores (residual = inherent)."""

    title: str
    likelihood: int
    impact: int
    owner: object
    category: str = RiskCategory.SECURITY
    description: str = ""


def default_evaluation_name(exercise: RedTeamExercise, title: str) -> str:
    return f"red-team/{exercise.pk}/{slugify(title)[:120] or 'finding'}"


def record_finding(
    exercise: RedTeamExercise,
    user,
    *,
    title: str,
    severity: str,
    reproduction: str,
    risk: Risk | None = None,
    new_risk: NewRisk | None = None,
    raise_to: tuple[int, int] | None = None,
    evaluation_name: str = "",
    success_criterion: str = "",
) -> RedTeamFinding:
    """Record what an exercise revealed and the risk it creates or raises.

    Name an existing ``risk`` (optionally ``raise_to`` (likelihood, impact): its
    residual scores rise through ``risk.services.raise_risk_scores``) or describe a
    ``new_risk``, registered through ``risk.services.create_risk`` and linked to the
    exercise's versions. ``evaluation_name`` is the red-team evaluation CI will post
    to show the finding no longer reproduces (a name is made up when left empty).
    """
    if (risk is None) == (new_risk is None):
        raise ValidationError({"risk": "Name the risk the finding raises, or describe a new one."})
    with transaction.atomic():
        exercise = RedTeamExercise.objects.select_for_update().get(pk=exercise.pk)
        if exercise.status == ExerciseStatus.CANCELLED:
            raise ValidationError({"exercise": "A cancelled exercise records no findings."})
        versions = list(exercise.model_versions.all())
        if new_risk is not None:
            risk = risk_services.create_risk(
                team=exercise.team,
                owner=new_risk.owner,
                title=new_risk.title,
                description=new_risk.description
                or f"Raised by red-team exercise {exercise.title!r}: {title}",
                category=new_risk.category,
                hypothesis=f"The red-team finding {title!r} reproduces.",
                inherent_likelihood=new_risk.likelihood,
                inherent_impact=new_risk.impact,
                residual_likelihood=new_risk.likelihood,
                residual_impact=new_risk.impact,
                links={"model_versions": versions},
            )
        finding = RedTeamFinding(
            exercise=exercise,
            title=title,
            severity=severity,
            reproduction=reproduction,
            risk=risk,
            evaluation_name=evaluation_name or default_evaluation_name(exercise, title),
            reported_by=user,
        )
        if success_criterion:
            finding.success_criterion = success_criterion
        finding.full_clean()
        if raise_to is not None:
            risk_services.raise_risk_scores(
                risk,
                user,
                likelihood=raise_to[0],
                impact=raise_to[1],
                reason=f"Red-team finding {title!r} ({severity}) of exercise {exercise.title!r}.",
                source=exercise,
            )
        finding.save()
        _refresh(finding)
        if versions:
            gate.rejudge_open(model_version_ids=[v.pk for v in versions])
    return finding


def update_finding(finding: RedTeamFinding) -> RedTeamFinding:
    """Save an edited finding (title, severity, reproduction, its evaluation's name or
    criterion); its status follows the evidence for the evaluation it now names, and the
    versions in scope are re-judged (a severity change may block or unblock them)."""
    with transaction.atomic():
        RedTeamFinding.objects.select_for_update().filter(pk=finding.pk).first()
        finding.full_clean()
        finding.save()
        _refresh(finding)
        versions = list(finding.exercise.model_versions.values_list("pk", flat=True))
        if versions:
            gate.rejudge_open(model_version_ids=versions)
    return finding


def scoped_versions(finding: RedTeamFinding):
    """The versions a finding's fix may be shown on: every version of a model the
    exercise challenged (a later version carries the fix too)."""
    models = finding.exercise.model_versions.values("model_id")
    return ModelVersion.objects.filter(model_id__in=models)


def fixing_evaluation(finding: RedTeamFinding) -> Evaluation | None:
    """The newest passing red-team result of the finding's evaluation that is the latest
    result of that test on its version (a later failing run on the same version undoes
    it), among the versions of the challenged models."""
    results = Evaluation.objects.filter(
        kind=EvaluationKind.RED_TEAM,
        name=finding.evaluation_name,
        model_version__in=scoped_versions(finding),
    ).order_by("created_at", "pk")
    latest: dict[int, Evaluation] = {}
    for result in results.only("pk", "model_version_id", "passed", "created_at"):
        latest[result.model_version_id] = result
    passing = [r for r in latest.values() if r.passed]
    return max(passing, key=lambda r: (r.created_at, r.pk)) if passing else None


def valid_acceptance(risk: Risk, now=None) -> RiskAcceptance | None:
    now = now or timezone.now()
    return (
        risk.acceptances.filter(status=AcceptanceStatus.ACCEPTED, expires_at__gt=now)
        .order_by("-expires_at")
        .first()
    )


def _refresh(finding: RedTeamFinding, now=None) -> bool:
    """Set the finding's status from the evidence (inside the caller's transaction):
    fixed when its evaluation passes, else accepted while its risk's acceptance is
    valid, else open. Records a decision and returns True when it moved."""
    now = now or timezone.now()
    fixed_by = fixing_evaluation(finding)
    acceptance = None if fixed_by else valid_acceptance(finding.risk, now)
    if fixed_by is not None:
        status = FindingStatus.FIXED
    elif acceptance is not None:
        status = FindingStatus.ACCEPTED
    else:
        status = FindingStatus.OPEN
    moved = status != finding.status
    same_evidence = finding.fixed_by_id == getattr(fixed_by, "pk", None) and (
        finding.acceptance_id == getattr(acceptance, "pk", None)
    )
    if not moved and same_evidence:
        return False
    previous = finding.status
    finding.status = status
    finding.fixed_by = fixed_by
    finding.acceptance = acceptance
    if moved:
        finding.status_changed_at = now
    finding.save(
        update_fields=["status", "fixed_by", "acceptance", "status_changed_at", "updated_at"]
    )
    if moved:
        record_decision(
            f"redteam.finding.{status}",
            finding,
            previous=previous,
            evaluation=getattr(fixed_by, "pk", None),
            model_version=getattr(fixed_by, "model_version_id", None),
            acceptance=getattr(acceptance, "pk", None),
        )
    return moved


def _refresh_all(findings, now=None) -> None:
    versions: set[int] = set()
    for finding in findings.select_related("risk", "exercise"):
        if _refresh(finding, now):
            versions |= set(finding.exercise.model_versions.values_list("pk", flat=True))
    if versions:
        gate.rejudge_open(model_version_ids=sorted(versions))


def evaluations_changed(model_version_id: int) -> None:
    """Red-team results of a version arrived or changed: the findings they test follow."""
    names = Evaluation.objects.filter(
        model_version_id=model_version_id, kind=EvaluationKind.RED_TEAM
    ).values("name")
    findings = RedTeamFinding.objects.filter(
        evaluation_name__in=names,
        exercise__model_versions__model__versions=model_version_id,
    ).distinct()
    _refresh_all(findings)


def risk_changed(risk_id: int) -> None:
    """A risk was accepted, reopened or revoked: the findings that raise it follow."""
    _refresh_all(RedTeamFinding.objects.filter(risk_id=risk_id))


# --- cadence -----------------------------------------------------------------


def cadence_days(risk_tier: str) -> int | None:
    """How many days a model of this tier may go without a completed exercise (None:
    the tier has no cadence). ``GOVREG_REDTEAM_CADENCE_DAYS``: ``tier=days,...``."""
    days = settings.GOVREG_REDTEAM_CADENCE_DAYS.get(risk_tier)
    return days or None


@dataclass(frozen=True)
class ExerciseDue:
    model: MLModel
    cadence_days: int
    last_completed_on: date | None
    due_date: date  # the day the cadence lapsed (or lapses)

    @property
    def never(self) -> bool:
        return self.last_completed_on is None


def exercises_due(models=None, today: date | None = None) -> list[ExerciseDue]:
    """Models of a tier with a cadence whose last completed exercise (on any of their
    versions) ended longer ago than the cadence, or who never had one: one query.
    A model never exercised is due from the day it was registered plus the cadence."""
    today = today or timezone.localdate()
    tiers = {tier: days for tier, days in settings.GOVREG_REDTEAM_CADENCE_DAYS.items() if days}
    if not tiers:
        return []
    models = MLModel.objects.all() if models is None else models
    rows = (
        models.filter(risk_tier__in=list(tiers))
        .annotate(
            last_completed=Max(
                "versions__redteam_exercises__ends_on",
                filter=Q(versions__redteam_exercises__status=ExerciseStatus.COMPLETED),
            )
        )
        .select_related("team")
        .order_by("name")
    )
    due = []
    for model in rows:
        cadence = tiers[model.risk_tier]
        since = model.last_completed or timezone.localdate(model.created_at)
        due_date = since + timedelta(days=cadence)
        if due_date <= today:
            due.append(ExerciseDue(model, cadence, model.last_completed, due_date))
    return due


def send_redteam_reminders(today: date | None = None) -> int:
    """Tell each overdue model's team, once per (model, due date): the reminder row is
    the idempotency key, claimed by a conditional UPDATE so two workers never both mail."""
    today = today or timezone.localdate()
    now = timezone.now()
    sent = 0
    for item in exercises_due(today=today):
        recipients = notify.group_emails(item.model.team)
        with transaction.atomic():
            reminder, created = RedTeamReminder.objects.get_or_create(
                ml_model=item.model,
                due_date=item.due_date,
                defaults={
                    "last_completed_on": item.last_completed_on,
                    "recipients": recipients,
                    "created_at": now,
                },
            )
            claimed = reminder.sent_at is None and notify.claim(
                RedTeamReminder.objects.filter(pk=reminder.pk, sent_at__isnull=True), sent_at=now
            )
        if not claimed:
            continue
        if not recipients:
            log.warning("model %s: team %s has no e-mail address", item.model, item.model.team)
            sent += 1
            continue
        mail = notify.compose(
            "risk/mail/redteam_reminder",
            {
                "item": item,
                "model": item.model,
                "quoted_name": repr(item.model.name),
                "due": item.due_date.isoformat(),
                "console_url": notify.link("ui-redteam-list", query={"model": item.model.name}),
                "api_url": notify.link("redteamexercise-list"),
            },
            recipients,
        )
        sent += notify.deliver(
            mail,
            release=lambda pk=reminder.pk: RedTeamReminder.objects.filter(pk=pk).update(
                sent_at=None
            ),
        )
    return sent


@receiver(post_save, sender=Risk, dispatch_uid="risk-redteam-risk-status")
def follow_risk_status(sender, instance, raw=False, update_fields=None, **kwargs):
    """An acceptance granted, revoked or expired saves the risk's status (and only
    these services save it by ``update_fields``): the findings raising it follow."""
    if not raw and update_fields is not None and "status" in update_fields:
        risk_changed(instance.pk)
