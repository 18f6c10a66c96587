"""Gauge providers for /metrics (registered in ``RiskConfig.ready``)."""

from django.db.models import Count

from risk.choices import ReviewState, RiskLevel
from risk.models import Risk


def open_risks_by_level() -> dict:
    counts = dict.fromkeys(RiskLevel.values, 0)
    rows = Risk.objects.live().values("residual_level").annotate(n=Count("pk")).order_by()
    for row in rows:
        counts[row["residual_level"]] = row["n"]
    return {(level,): n for level, n in counts.items()}


def overdue_reviews() -> int:
    return Risk.objects.review_state(ReviewState.OVERDUE).count()
