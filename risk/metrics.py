"""Gauge providers for /metrics (registered in ``RiskConfig.ready``)."""

from django.db.models import Count

from risk import sufficiency
from risk.choices import ReviewState, RiskLevel
from risk.models import Risk, Threshold
from risk.sufficiency import Sufficiency


def open_risks_by_level() -> dict:
    counts = dict.fromkeys(RiskLevel.values, 0)
    rows = Risk.objects.live().values("residual_level").annotate(n=Count("pk")).order_by()
    for row in rows:
        counts[row["residual_level"]] = row["n"]
    return {(level,): n for level, n in counts.items()}


def overdue_reviews() -> int:
    return Risk.objects.review_state(ReviewState.OVERDUE).count()


def silent_monitors() -> int:
    """Thresholds whose monitor was found silent and has not reported since."""
    return Threshold.objects.filter(silent_since__isnull=False).count()


def risks_by_sufficiency() -> dict:
    counts = dict.fromkeys(Sufficiency.values, 0)
    rows = sufficiency.annotate(Risk.objects.live()).values("sufficiency").annotate(n=Count("pk"))
    for row in rows.order_by():
        counts[row["sufficiency"]] = row["n"]
    return {(level,): n for level, n in counts.items()}
