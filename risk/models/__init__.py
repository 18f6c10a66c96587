"""Risk-register records. matrix: the scales and levels; register: risks, controls,
acceptances; monitoring: thresholds, evaluations, required evaluations, reminders;
redteam: red-team exercises, their findings and cadence reminders."""

from risk.models.matrix import *  # noqa: F401,F403
from risk.models.monitoring import *  # noqa: F401,F403
from risk.models.redteam import *  # noqa: F401,F403,E402
from risk.models.register import *  # noqa: F401,F403
