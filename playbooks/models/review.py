from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from playbooks.choices import ActionItemStatus, DrillStatus, ReviewStatus

__all__ = ["Drill", "PostIncidentReview", "ActionItem"]


class Drill(models.Model):
    """A scheduled rehearsal of a playbook (a rollback drill, a paging test). Times to
    acknowledge and to contain come from the recorded timestamps; gaps found become
    action items."""

    playbook = models.ForeignKey(
        "playbooks.Playbook", on_delete=models.PROTECT, related_name="drills"
    )
    playbook_version = models.ForeignKey(
        "playbooks.PlaybookVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="drills",
        editable=False,
    )
    title = models.CharField(max_length=300)
    scheduled_for = models.DateTimeField()
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    status = models.CharField(
        max_length=16, choices=DrillStatus.choices, default=DrillStatus.SCHEDULED
    )
    started_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    what_went_wrong = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_for", "-id"]

    def __str__(self):
        return self.title

    def clean(self):
        order = [
            ("started_at", self.started_at),
            ("acknowledged_at", self.acknowledged_at),
            ("contained_at", self.contained_at),
            ("completed_at", self.completed_at),
        ]
        previous_name, previous = None, None
        for name, value in order:
            if value is None:
                continue
            if previous is not None and value < previous:
                raise ValidationError({name: f"must not be before {previous_name}."})
            previous_name, previous = name, value
        if (self.acknowledged_at or self.contained_at) and self.started_at is None:
            raise ValidationError({"started_at": "Record when the drill started."})
        if self.status == DrillStatus.COMPLETED and self.completed_at is None:
            raise ValidationError({"completed_at": "A completed drill needs its end time."})

    @staticmethod
    def _seconds(start, end):
        return None if start is None or end is None else (end - start).total_seconds()

    @property
    def seconds_to_acknowledge(self) -> float | None:
        return self._seconds(self.started_at, self.acknowledged_at)

    @property
    def seconds_to_contain(self) -> float | None:
        return self._seconds(self.started_at, self.contained_at)


class PostIncidentReview(models.Model):
    """What happened, why, how it was resolved and what we learned. A critical
    incident cannot close until its review is completed."""

    incident = models.OneToOneField(
        "playbooks.Incident", on_delete=models.CASCADE, related_name="review"
    )
    summary = models.TextField("what happened", blank=True)
    root_cause = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    lessons = models.TextField("lessons learned", blank=True)
    status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT, editable=False
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"review of incident {self.incident_id}"

    def missing_for_completion(self) -> list[str]:
        return [
            name
            for name in ("summary", "root_cause", "resolution", "lessons")
            if not getattr(self, name).strip()
        ]


class ActionItem(models.Model):
    """Something to do after a review or a drill, with an owner and a due date. It may
    point at a risk to update, a threshold to recalibrate or an evaluation to add;
    completing it applies that change through the risk app's services."""

    review = models.ForeignKey(
        PostIncidentReview,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="action_items",
    )
    drill = models.ForeignKey(
        Drill, null=True, blank=True, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField()
    status = models.CharField(
        max_length=16,
        choices=ActionItemStatus.choices,
        default=ActionItemStatus.OPEN,
        editable=False,
    )
    risk = models.ForeignKey(
        "risk.Risk", null=True, blank=True, on_delete=models.PROTECT, related_name="action_items"
    )
    new_residual_likelihood = models.PositiveSmallIntegerField(null=True, blank=True)
    new_residual_impact = models.PositiveSmallIntegerField(null=True, blank=True)
    threshold = models.ForeignKey(
        "risk.Threshold",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="action_items",
    )
    new_warning_value = models.FloatField(null=True, blank=True)
    new_critical_value = models.FloatField(null=True, blank=True)
    evaluation_to_add = models.TextField(
        blank=True, help_text="An evaluation (test) to add to CI, described for its owner."
    )
    evaluation = models.ForeignKey(
        "risk.Evaluation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_items",
        help_text="The evaluation that was added, linked when the item is done.",
    )
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    outcome = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(review__isnull=False) & Q(drill__isnull=True))
                | (Q(review__isnull=True) & Q(drill__isnull=False)),
                name="%(app_label)s_%(class)s_one_parent",
                violation_error_message="An action item belongs to one review or one drill.",
            )
        ]

    def __str__(self):
        return self.title

    def clean(self):
        errors = {}
        if self.threshold_id:
            for name in ("new_warning_value", "new_critical_value"):
                if getattr(self, name) is None:
                    errors[name] = "Give the recalibrated value for the threshold."
        elif self.new_warning_value is not None or self.new_critical_value is not None:
            errors["threshold"] = "Name the threshold these values recalibrate."
        residual = (self.new_residual_likelihood, self.new_residual_impact)
        if self.risk_id and all(v is None for v in residual):
            errors["new_residual_likelihood"] = (
                "Give the new residual likelihood and/or impact for the risk."
            )
        elif not self.risk_id and any(v is not None for v in residual):
            errors["risk"] = "Name the risk these residual values update."
        if bool(self.review_id) == bool(self.drill_id):
            errors["review"] = "An action item belongs to one review or one drill."
        if errors:
            raise ValidationError(errors)
