"""Red-team exercises and their findings.

An exercise challenges a set of model versions in a scope, by a method, with
people of the owning team. Each finding it reveals raises a risk (linked or new)
and names the red-team evaluation that will test its fix: a result of kind
``red-team`` with the finding's ``evaluation_name`` whose success criterion is
"the finding does not reproduce". A high or critical finding still open blocks
the gate for the versions in scope (``risk.checks``).
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from risk.choices import (
    EXERCISE_TRANSITIONS,
    ExerciseStatus,
    FindingSeverity,
    FindingStatus,
)
from risk.models.monitoring import Evaluation
from risk.models.register import Risk, RiskAcceptance

__all__ = ["RedTeamExercise", "RedTeamFinding", "RedTeamReminder", "DEFAULT_SUCCESS_CRITERION"]

DEFAULT_SUCCESS_CRITERION = "The finding does not reproduce."


class RedTeamExercise(models.Model):
    """One red-team exercise: who challenged which model versions, how, and when."""

    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="redteam_exercises")
    title = models.CharField(max_length=200)
    scope = models.TextField(help_text="What was challenged: the assumptions and surfaces.")
    method = models.TextField(
        help_text="How: manual adversarial prompting, automated jailbreak corpora, ..."
    )
    model_versions = models.ManyToManyField(
        "registry.ModelVersion", related_name="redteam_exercises"
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="redteam_exercises"
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=16,
        choices=ExerciseStatus.choices,
        default=ExerciseStatus.PLANNED,
        db_index=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_on", "-id"]
        indexes = [models.Index(fields=["team", "status"], name="risk_redteam_team_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="%(app_label)s_%(class)s_ends_after_start",
                violation_error_message="An exercise ends on or after the day it starts.",
            )
        ]

    def __str__(self):
        return self.title

    def clean(self):
        errors = {}
        if self.ends_on and self.starts_on and self.ends_on < self.starts_on:
            errors["ends_on"] = "An exercise ends on or after the day it starts."
        if self.status == ExerciseStatus.COMPLETED and not self.ends_on:
            errors["ends_on"] = "A completed exercise names the day it ended."
        if self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored is not None and stored != self.status:
                allowed = EXERCISE_TRANSITIONS.get(stored, ())
                if self.status not in allowed:
                    moves = ", ".join(allowed) or "nowhere (it is final)"
                    errors["status"] = (
                        f"An exercise {stored} may move to {moves}, not to {self.status}."
                    )
        if errors:
            raise ValidationError(errors)


class RedTeamFinding(models.Model):
    """What an exercise revealed: how bad, how to reproduce it, the risk it raises and the
    red-team evaluation whose passing result shows it fixed.

    ``status`` is never typed: ``risk.redteam`` sets it when the evaluation passes
    (fixed) or the risk is accepted through its acceptance request (accepted).
    """

    exercise = models.ForeignKey(RedTeamExercise, on_delete=models.PROTECT, related_name="findings")
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=16, choices=FindingSeverity.choices, db_index=True)
    reproduction = models.TextField(help_text="The steps, prompts or inputs that reproduce it.")
    status = models.CharField(
        max_length=16,
        choices=FindingStatus.choices,
        default=FindingStatus.OPEN,
        editable=False,
        db_index=True,
    )
    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="redteam_findings")
    evaluation_name = models.CharField(
        max_length=500,
        unique=True,
        help_text="The name CI gives the red-team evaluation that tests the fix.",
        error_messages={"unique": "Another finding already names this evaluation."},
    )
    success_criterion = models.TextField(default=DEFAULT_SUCCESS_CRITERION)
    fixed_by = models.ForeignKey(
        Evaluation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="fixed_findings",
    )
    acceptance = models.ForeignKey(
        RiskAcceptance,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="redteam_findings",
    )
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exercise", "-created_at", "-id"]

    def __str__(self):
        return self.title

    @property
    def blocking(self) -> bool:
        return self.severity in (FindingSeverity.HIGH, FindingSeverity.CRITICAL)

    def clean(self):
        errors = {}
        if not (self.evaluation_name or "").strip():
            errors["evaluation_name"] = "Name the red-team evaluation that will test the fix."
        if self.risk_id and self.exercise_id and self.risk.team_id != self.exercise.team_id:
            errors["risk"] = "The risk must belong to the exercise's team."
        if errors:
            raise ValidationError(errors)


class RedTeamReminder(models.Model):
    """A notice to a model's team that its risk tier's red-team cadence has lapsed; one
    per (model, due date), so re-runs of the beat task send nothing."""

    ml_model = models.ForeignKey(
        "registry.MLModel", on_delete=models.CASCADE, related_name="redteam_reminders"
    )
    due_date = models.DateField(help_text="When an exercise was due (last one + cadence).")
    last_completed_on = models.DateField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ml_model", "due_date"],
                name="%(app_label)s_%(class)s_unique_per_due_date",
                violation_error_message="This red-team reminder was already issued.",
            )
        ]

    def __str__(self):
        return f"red-team exercise due for {self.ml_model} ({self.due_date})"
