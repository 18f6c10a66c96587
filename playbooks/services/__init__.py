"""The verbs of the playbooks app, one module per concern:

- ``playbooks``: save a playbook, publish its immutable versions
- ``triage``: signal intake, triage, investigation tasks, mapping unlinked signals
- ``incidents``: open, acknowledge, contain, resolve, close, steps, comments, serious clock
- ``escalation``: level timers, exactly-once escalation
- ``regulatory``: reporting-deadline warnings, overdue-report escalation
- ``rollback``: containment's request to put the previous live version back
- ``reviews``: post-incident reviews, drills and action items
"""

from playbooks.services.common import IncidentConflict, NotAllowed

__all__ = ["IncidentConflict", "NotAllowed"]
