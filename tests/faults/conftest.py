"""The monitored model's world of tests/playbooks (a team's model live in production, a
threshold, a risk and a playbook), with the seeded risk matrix and decision rights."""

from tests.playbooks.conftest import (  # noqa: F401
    deployment,
    lead,
    leads,
    model,
    pipeline,
    playbook,
    production,
    risk,
    threshold,
    v1,
    v2,
)
from tests.risk.conftest import risk_defaults  # noqa: F401
