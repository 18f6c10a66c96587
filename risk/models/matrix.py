from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from config.json_shapes import first_violation
from risk.choices import RiskLevel

__all__ = ["RiskMatrix", "default_levels"]

DEFAULT_LIKELIHOOD_LABELS = ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]
DEFAULT_IMPACT_LABELS = ["Negligible", "Minor", "Moderate", "Major", "Severe"]


def default_levels(size: int = 5) -> list[list[str]]:
    """The usual 5 x 5 grid by score likelihood x impact: <=4 low, <=9 medium, <=16 high."""
    rows = []
    for likelihood in range(1, size + 1):
        row = []
        for impact in range(1, size + 1):
            score = likelihood * impact
            if score <= 4:
                row.append(RiskLevel.LOW.value)
            elif score <= 9:
                row.append(RiskLevel.MEDIUM.value)
            elif score <= 16:
                row.append(RiskLevel.HIGH.value)
            else:
                row.append(RiskLevel.CRITICAL.value)
        rows.append(row)
    return rows


LABELS_SCHEMA = {
    "type": "array",
    "minItems": 2,
    "maxItems": 10,
    "items": {"type": "string", "pattern": "\\S"},
}


def levels_schema(likelihood_size: int, impact_size: int) -> dict:
    """One row per likelihood score, one known level per impact score in each row."""
    return {
        "type": "array",
        "minItems": likelihood_size,
        "maxItems": likelihood_size,
        "items": {
            "type": "array",
            "minItems": impact_size,
            "maxItems": impact_size,
            "items": {"enum": list(RiskLevel.values)},
        },
    }


class RiskMatrix(models.Model):
    """The scales a team scores risks on and the level of every cell, kept as data.

    ``levels[likelihood - 1][impact - 1]`` is the level of that cell, so the
    board can redraw the matrix in the admin without a code change. One
    matrix is the default; new risks are scored on it.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    likelihood_labels = models.JSONField(
        default=list, help_text="One label per likelihood score, lowest first."
    )
    impact_labels = models.JSONField(
        default=list, help_text="One label per impact score, lowest first."
    )
    levels = models.JSONField(
        default=list,
        help_text="Rows per likelihood (lowest first), one level per impact: "
        "low, medium, high or critical.",
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name_plural = "risk matrices"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="%(app_label)s_%(class)s_unique_default",
                violation_error_message="Only one risk matrix can be the default.",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.likelihood_size} x {self.impact_size})"

    @classmethod
    def default(cls) -> "RiskMatrix | None":
        return cls.objects.filter(is_default=True).first()

    @property
    def likelihood_size(self) -> int:
        return len(self.likelihood_labels or [])

    @property
    def impact_size(self) -> int:
        return len(self.impact_labels or [])

    def check_scores(self, likelihood, impact) -> dict:
        """Errors (by axis) for scores outside this matrix; empty when both are in range."""
        errors = {}
        for axis, value, size in (
            ("likelihood", likelihood, self.likelihood_size),
            ("impact", impact, self.impact_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                errors[axis] = f"{axis} must be a whole number from 1 to {size}."
            elif not 1 <= value <= size:
                errors[axis] = f"{axis} {value} is outside this matrix's scale 1-{size}."
        return errors

    def level(self, likelihood: int, impact: int) -> str:
        """The level of the cell (likelihood, impact); a ValidationError when off the matrix."""
        errors = self.check_scores(likelihood, impact)
        if errors:
            raise ValidationError(errors)
        return self.levels[likelihood - 1][impact - 1]

    def cells(self):
        """Every (likelihood, impact, level) of the matrix, for the heatmap."""
        for likelihood, row in enumerate(self.levels, start=1):
            for impact, level in enumerate(row, start=1):
                yield likelihood, impact, level

    def clean(self):
        errors = {}
        for name in ("likelihood_labels", "impact_labels"):
            violation = first_violation(LABELS_SCHEMA, getattr(self, name))
            if violation is not None:
                errors[name] = (
                    "Every label must be a non-empty text."
                    if violation.absolute_path
                    else "Give a list of 2 to 10 labels, lowest first."
                )
        if errors:
            raise ValidationError(errors)
        violation = first_violation(
            levels_schema(self.likelihood_size, self.impact_size), self.levels
        )
        if violation is not None:
            path = list(violation.absolute_path)
            if not path:
                errors["levels"] = f"Give {self.likelihood_size} rows, one per likelihood score."
            elif len(path) == 1:
                errors["levels"] = (
                    f"Row {path[0] + 1} must have {self.impact_size} levels, one per impact score."
                )
            else:
                errors["levels"] = (
                    f"Row {path[0] + 1} has unknown level {violation.instance!r}; "
                    f"use one of {', '.join(RiskLevel.values)}."
                )
        if not errors and self.pk:
            # A smaller matrix must still hold every risk already scored on it.
            from risk.models.register import Risk

            scored = Risk.objects.filter(matrix=self)
            too_likely = scored.filter(
                Q(inherent_likelihood__gt=self.likelihood_size)
                | Q(residual_likelihood__gt=self.likelihood_size)
            ).exists()
            too_severe = scored.filter(
                Q(inherent_impact__gt=self.impact_size) | Q(residual_impact__gt=self.impact_size)
            ).exists()
            if too_likely:
                errors["likelihood_labels"] = "Risks scored on this matrix use a higher likelihood."
            if too_severe:
                errors["impact_labels"] = "Risks scored on this matrix use a higher impact."
        if errors:
            raise ValidationError(errors)

    def relevel_risks(self) -> int:
        """Recompute the stored levels of every risk on this matrix after it was redrawn."""
        from risk.models.register import Risk

        changed = 0
        for risk in Risk.objects.filter(matrix=self).select_related("matrix"):
            before = (risk.inherent_level, risk.residual_level)
            risk.matrix = self
            risk.compute_levels()
            if (risk.inherent_level, risk.residual_level) != before:
                risk.save(update_fields=["inherent_level", "residual_level", "updated_at"])
                changed += 1
        return changed
