"""Playbooks-app records. playbook: playbooks and their immutable versions.
signals: monitoring signals and investigation tasks. incident: incidents, their
timeline, step completions and escalations. review: drills, post-incident
reviews and action items."""

from playbooks.models.feedback import *  # noqa: F401,F403,E402
from playbooks.models.incident import *  # noqa: F401,F403
from playbooks.models.playbook import *  # noqa: F401,F403
from playbooks.models.review import *  # noqa: F401,F403
from playbooks.models.signals import *  # noqa: F401,F403
from playbooks.models.webhook_source import *  # noqa: F401,F403,E402
