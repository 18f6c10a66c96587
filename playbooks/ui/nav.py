"""The incident board's entries in the console's navigation."""

from accounts.permissions import may_any
from console.registry import nav_entry


def _sees_incidents(user) -> bool:
    """Incidents are seen through their model: whoever may see some model (its team,
    the board, auditors, admins)."""
    return may_any(user, "view", "playbooks.incident") or may_any(user, "view", "registry.mlmodel")


def _sees_drills(user) -> bool:
    return may_any(user, "view", "playbooks.drill") or may_any(user, "view", "playbooks.playbook")


nav_entry("Incidents", "ui-incident-list", order=50, section="/incidents/", visible=_sees_incidents)
nav_entry("Drills", "ui-drill-list", order=55, section="/drills/", visible=_sees_drills)


def _sees_feedback(user) -> bool:
    """Feedback reports are seen through their model, as on the API."""
    return may_any(user, "view", "playbooks.feedbackreport") or may_any(
        user, "view", "registry.mlmodel"
    )


nav_entry(
    "Feedback",
    "ui-feedback-list",
    order=57,
    section="/feedback-reports/",
    visible=_sees_feedback,
)
