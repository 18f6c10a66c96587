"""The Art. 73 reporting clock of an incident as the board reads it."""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ReportClock:
    state: str  # "running", "overdue", "reported", "not-reportable"
    deadline: datetime | None
    text: str  # "due in 3 d 4 h", "overdue by 2 d 1 h", "reported 2026-05-04 10:00 UTC"

    @property
    def overdue(self) -> bool:
        return self.state == "overdue"


def span(delta: timedelta) -> str:
    """A duration in its two largest units: ``3 d 4 h``, ``5 h 12 min``, ``4 min``."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def report_clock(incident, now) -> ReportClock | None:
    """None for an incident that is not serious; else where its report stands. Overdue
    exactly when ``Incident.report_overdue`` says so (the one definition)."""
    if not incident.serious_category or incident.report_deadline is None:
        return None
    deadline = incident.report_deadline
    if incident.reported_at is not None:
        return ReportClock(
            "reported", deadline, f"reported {incident.reported_at:%Y-%m-%d %H:%M} UTC"
        )
    if incident.not_reportable_at is not None:
        return ReportClock("not-reportable", deadline, "determined not reportable")
    if incident.report_overdue:
        return ReportClock("overdue", deadline, f"overdue by {span(now - deadline)}")
    return ReportClock("running", deadline, f"due in {span(deadline - now)}")
