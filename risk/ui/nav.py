"""The risk register's entry in the console's navigation."""

from accounts.permissions import may_any
from console.registry import nav_entry
from risk.models import RedTeamExercise, Risk

nav_entry(
    "Risks",
    "ui-risk-list",
    order=30,
    section="/risks/",
    visible=lambda user: may_any(user, "view", Risk),
)

nav_entry(
    "Red team",
    "ui-redteam-list",
    order=32,
    section="/redteam/",
    visible=lambda user: may_any(user, "view", RedTeamExercise),
)
