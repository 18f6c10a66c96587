from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models

from accounts.roles import Role, teams
from playbooks import validation
from risk.choices import RiskCategory

__all__ = ["Playbook", "PlaybookVersion"]

# The fields whose change makes a new PlaybookVersion.
CONTENT_FIELDS = (
    "name",
    "description",
    "risk_category",
    "label_matchers",
    "unthresholded_is_critical",
    "steps",
    "decision_tree",
    "escalation_chain",
)


class Playbook(models.Model):
    """What to do when a signal fires: triggers, ordered steps, a decision tree and
    an escalation chain. Owned by a team. Every content change is frozen into a new
    ``PlaybookVersion``; an incident keeps the version it ran."""

    team = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="playbooks")
    name = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    risk_category = models.CharField(
        max_length=32,
        choices=RiskCategory.choices,
        blank=True,
        help_text="Trigger: signals whose threshold belongs to a risk of this category.",
    )
    thresholds = models.ManyToManyField(
        "risk.Threshold",
        blank=True,
        related_name="playbooks",
        help_text="Trigger: signals decided by these thresholds run this playbook.",
    )
    label_matchers = models.JSONField(
        default=dict,
        blank=True,
        help_text='Trigger: labels a signal must carry, e.g. {"alertname": "DriftHigh"}.',
    )
    unthresholded_is_critical = models.BooleanField(
        default=False,
        help_text="A matching signal with no threshold for its metric is critical.",
    )
    steps = models.JSONField(
        default=list, help_text='Ordered steps: [{"kind": "containment", "text": "..."}].'
    )
    decision_tree = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"id": "q1", "question": "...", "answers": [{"answer": "yes", "step": 2}, '
        '{"answer": "no", "next": "q2"}]}]; the first node is the root.',
    )
    escalation_chain = models.JSONField(
        default=list,
        help_text='Levels in order: [{"group": "credit-risk", "minutes": 15}, ...].',
    )
    active = models.BooleanField(default=True)
    current_version = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"],
                name="%(app_label)s_%(class)s_unique_team_name",
                violation_error_message="This team already has a playbook with this name.",
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        chain = self.escalation_chain if isinstance(self.escalation_chain, list) else []
        # An incident escalates to the playbook's own team, the governance board (the one
        # role it may name) or a shared on-call group (GOVREG_SHARED_ESCALATION_GROUPS).
        # Anything else (another team, a role such as admin) reads as absent, so the
        # answer does not tell which names exist outside the team.
        # A shared group that is a role (admin, auditor, ...) stays refused.
        group_names = set(
            (
                teams().filter(
                    models.Q(pk=self.team_id)
                    | models.Q(name__in=settings.GOVREG_SHARED_ESCALATION_GROUPS)
                )
                | Group.objects.filter(name=Role.BOARD)
            )
            .filter(
                name__in=[
                    lvl["group"]
                    for lvl in chain
                    if isinstance(lvl, dict) and isinstance(lvl.get("group"), str)
                ]
            )
            .values_list("name", flat=True)
        )
        steps_errors = validation.validate_steps(self.steps)
        validation.raise_if(
            {
                "steps": steps_errors,
                "label_matchers": validation.validate_label_matchers(self.label_matchers),
                "escalation_chain": validation.validate_escalation_chain(
                    self.escalation_chain, group_names
                ),
                "decision_tree": []
                if steps_errors
                else validation.validate_decision_tree(self.decision_tree, len(self.steps)),
            }
        )

    def content(self) -> dict:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}

    def matches_labels(self, labels: dict) -> bool:
        matchers = self.label_matchers or {}
        return bool(matchers) and all(labels.get(k) == v for k, v in matchers.items())


class PlaybookVersion(models.Model):
    """An immutable snapshot of a playbook as it was when published."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    triggers = models.JSONField(default=dict)
    steps = models.JSONField(default=list)
    decision_tree = models.JSONField(default=list)
    escalation_chain = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["playbook", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["playbook", "number"],
                name="%(app_label)s_%(class)s_unique_number",
                violation_error_message="This playbook already has a version with this number.",
            )
        ]

    def __str__(self):
        return f"{self.name} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("A playbook version is immutable; edit the playbook instead.")
        super().save(*args, **kwargs)

    def level(self, number: int) -> dict | None:
        """Escalation level ``number`` (1-based), or None past the end of the chain."""
        if 1 <= number <= len(self.escalation_chain):
            return self.escalation_chain[number - 1]
        return None
