"""Risk-register records. matrix: the scales and levels; register: risks, controls,
acceptances; monitoring: thresholds, evaluations, required evaluations, reminders."""

from risk.models.matrix import *  # noqa: F401,F403
from risk.models.monitoring import *  # noqa: F401,F403
from risk.models.register import *  # noqa: F401,F403
