"""The playbooks' dossier sections (Annex IV point 9, post-market monitoring): what
monitoring found (signals by triage, the latest that mattered), the incidents, their
post-incident reviews with action items, and the drills of the playbooks that watch
the model. Registered in ``PlaybooksConfig.ready``."""

from django.db.models import Count, Prefetch, Q

from playbooks.choices import Triage
from playbooks.models import ActionItem, Drill, Incident, Playbook, PostIncidentReview, Signal
from registry.dossier import SectionData, Table, dossier_section
from registry.models import MLModel

SIGNALS_SHOWN = 25


def _user(user) -> str | None:
    return user.username if user is not None else None


def _incidents(context):
    def read():
        reviews = PostIncidentReview.objects.select_related("completed_by").prefetch_related(
            Prefetch(
                "action_items",
                queryset=context.until(ActionItem.objects.select_related("owner", "risk")),
            )
        )
        query = (
            context.until(Incident.objects.filter(model=context.model), "opened_at")
            .select_related("model_version", "deployment__environment")
            .prefetch_related(Prefetch("review", queryset=reviews))
            .order_by("opened_at", "pk")
        )
        incidents = context.stood(
            context.scoped(query, "model", MLModel), ("status", "severity", "serious_category")
        )
        reviews = []
        for incident in incidents:
            review = getattr(incident, "review", None)
            if review is not None and context.after(review.created_at):
                review = None
            incident.dossier_review = review
            if review is not None:
                reviews.append(review)
        context.stood(reviews, ("summary", "root_cause", "resolution", "lessons", "status"))
        return incidents

    return context.once("playbooks.incidents", read)


def _at(context, moment):
    """A moment, or nothing if it came after ``asOf``."""
    return None if context.after(moment) else moment


@dossier_section("playbooks.signals", point=9, title="What monitoring found: signals", order=20)
def signals(version, context) -> SectionData:
    signals = context.scoped(
        context.until(Signal.objects.filter(model=context.model), "received_at"), "model", MLModel
    )
    counts = {
        row["triage"]: row["n"]
        for row in signals.order_by().values("triage").annotate(n=Count("pk"))
    }
    if not counts:
        return SectionData()
    latest = (
        signals.filter(triage__in=(Triage.QUESTIONABLE, Triage.CRITICAL))
        .select_related("model_version")
        .order_by("-received_at", "-pk")[:SIGNALS_SHOWN]
    )
    return SectionData(
        facts=[
            (f"signals_{triage}", label, counts.get(triage, 0))
            for triage, label in Triage.choices
            if counts.get(triage)
        ],
        tables=[
            Table(
                "signals",
                f"The latest questionable and critical signals (at most {SIGNALS_SHOWN})",
                [
                    ("received_at", "Received"),
                    ("version", "Version"),
                    ("metric", "Metric"),
                    ("value", "Value"),
                    ("triage", "Triage"),
                    ("reason", "Why"),
                ],
                [
                    {
                        "received_at": s.received_at,
                        "version": s.model_version.version if s.model_version else s.version_name,
                        "metric": s.metric,
                        "value": s.value,
                        "triage": s.triage,
                        "reason": s.triage_reason,
                    }
                    for s in latest
                ],
                widths=(16, 8, 16, 8, 11, 41),
            )
        ],
    )


@dossier_section("playbooks.incidents", point=9, title="Incidents", order=30)
def incidents(version, context) -> SectionData:
    rows = [
        {
            "incident": incident.pk,
            "title": incident.title,
            "version": incident.model_version.version if incident.model_version else None,
            "severity": incident.severity,
            "status": incident.status,
            "opened_at": incident.opened_at,
            "resolved_at": _at(context, incident.resolved_at),
            "serious": incident.get_serious_category_display()
            if incident.serious_category
            else "no",
            "reported_at": _at(context, incident.reported_at),
        }
        for incident in _incidents(context)
    ]
    return SectionData(
        tables=[
            Table(
                "incidents",
                "Incidents on this model",
                [
                    ("incident", "#"),
                    ("title", "Incident"),
                    ("version", "Version"),
                    ("severity", "Severity"),
                    ("status", "Status"),
                    ("opened_at", "Opened"),
                    ("resolved_at", "Resolved"),
                    ("serious", "Serious (Art. 73)"),
                    ("reported_at", "Reported"),
                ],
                rows,
                widths=(5, 24, 7, 8, 9, 12, 12, 12, 11),
            )
        ]
    )


@dossier_section("playbooks.reviews", point=9, title="Post-incident reviews", order=40)
def reviews(version, context) -> SectionData:
    review_rows, action_rows = [], []
    for incident in _incidents(context):
        review = incident.dossier_review
        if review is None:
            continue
        completed = review.completed_at if not context.after(review.completed_at) else None
        review_rows.append(
            {
                "incident": incident.pk,
                "status": review.status,
                "summary": review.summary,
                "root_cause": review.root_cause,
                "resolution": review.resolution,
                "lessons": review.lessons,
                "completed": f"{completed:%Y-%m-%d} by {_user(review.completed_by)}"
                if completed
                else None,
            }
        )
        for item in review.action_items.all():
            closed = _at(context, item.closed_at)
            action_rows.append(
                {
                    "incident": incident.pk,
                    "action": item.title,
                    "owner": _user(item.owner),
                    "due": item.due_date,
                    "status": item.status if closed or not item.closed_at else "open",
                    "risk": item.risk.title if item.risk else None,
                }
            )
    return SectionData(
        tables=[
            Table(
                "reviews",
                "Reviews",
                [
                    ("incident", "#"),
                    ("status", "Status"),
                    ("summary", "What happened"),
                    ("root_cause", "Root cause"),
                    ("resolution", "Resolution"),
                    ("lessons", "Lessons"),
                    ("completed", "Completed"),
                ],
                review_rows,
                widths=(5, 8, 20, 20, 18, 18, 11),
            ),
            Table(
                "action_items",
                "Action items",
                [
                    ("incident", "#"),
                    ("action", "Action"),
                    ("owner", "Owner"),
                    ("due", "Due"),
                    ("status", "Status"),
                    ("risk", "Updates risk"),
                ],
                action_rows,
                widths=(5, 40, 10, 11, 9, 25),
            ),
        ]
    )


@dossier_section("playbooks.drills", point=9, title="Drills", order=50)
def drills(version, context) -> SectionData:
    model = context.model
    playbooks = Playbook.objects.filter(
        Q(thresholds__model_version__model=model)
        | Q(thresholds__deployment__model=model)
        | Q(versions__incidents__model=model)
    ).values("pk")
    query = (
        context.until(Drill.objects.filter(playbook__in=playbooks))
        .select_related("playbook")
        .order_by("scheduled_for", "pk")
    )
    rows = [
        {
            "drill": drill.title,
            "playbook": drill.playbook.name,
            "scheduled_for": drill.scheduled_for,
            "status": drill.status,
            "completed_at": _at(context, drill.completed_at),
            "what_went_wrong": drill.what_went_wrong,
        }
        for drill in context.stood(
            context.scoped(query, "playbook", Playbook), ("status", "what_went_wrong")
        )
    ]
    return SectionData(
        tables=[
            Table(
                "drills",
                "Drills of the playbooks watching this model",
                [
                    ("drill", "Drill"),
                    ("playbook", "Playbook"),
                    ("scheduled_for", "Scheduled"),
                    ("status", "Status"),
                    ("completed_at", "Completed"),
                    ("what_went_wrong", "What went wrong"),
                ],
                rows,
                widths=(22, 14, 13, 10, 13, 28),
            )
        ]
    )
