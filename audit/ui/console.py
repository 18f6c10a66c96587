"""The audit trail's entries in the console: the "Audit" navigation entry (for those
who read the trail) and the home panel "changes since my last visit"."""

from datetime import timedelta

from django.utils import timezone

from audit.ui.history import recent_visible_events, sees_whole_trail
from console.registry import Panel, home_panel, nav_entry
from console.views import since_last_visit

nav_entry("Audit", "ui-audit-trail", order=80, section="/audit/", visible=sees_whole_trail)

PANEL_ROWS = 12
DEFAULT_SPAN = timedelta(days=7)


@home_panel("changes", order=90)
def changes_since_last_visit(request):
    """Events since the previous sign-in (else the last 7 days), of what the user may
    see, newest first: a bounded number of queries whatever the data size (the
    newest events are checked in windows; the panel says so if it stopped early)."""
    since = since_last_visit(request)
    first_visit = since is None
    if first_visit:
        since = timezone.now() - DEFAULT_SPAN
    recent = recent_visible_events(request.user, since=since, limit=PANEL_ROWS + 1)
    rows = recent.events
    partial = not recent.exhausted and len(rows) <= PANEL_ROWS
    title = "Changes in the last 7 days" if first_visit else "Changes since my last visit"
    return Panel(
        title,
        "audit/ui/_changes_panel.html",
        {
            "rows": rows[:PANEL_ROWS],
            "more": len(rows) > PANEL_ROWS,
            "partial": partial,
            "checked": recent.checked,
            "since": since,
            "trail": sees_whole_trail(request.user),
        },
        count=len(rows) if len(rows) <= PANEL_ROWS and not partial else None,
    )
