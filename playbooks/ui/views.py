"""The incident board: active incidents by severity with their Art. 73 clocks, one
incident with its timeline, playbook steps, actions and review, and the drills.

Every read goes through ``accounts.permissions`` (an incident of a team the user may
not see is a 404); every action is a CSRF-protected POST that calls the playbooks
services, which lock, check, write the timeline and the audit trail. A refusal
(a transition the incident's state does not allow, a missing decision right, bad
input) comes back as a message on the incident's page.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Prefetch, Q, Value, When
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import follow, may, scope_queryset
from audit.ui.history import history
from config.errors import DomainError
from playbooks.choices import (
    ACTIVE_STATUSES,
    INCIDENT_TRANSITIONS,
    ActionItemStatus,
    IncidentStatus,
    Severity,
)
from playbooks.models import ActionItem, Drill, Incident, Playbook, StepCompletion
from playbooks.models.incident import report_overdue_q
from playbooks.services import escalation, incidents, reviews
from playbooks.ui.clock import report_clock
from playbooks.ui.filtersets import DrillBoardFilter, IncidentBoardFilter
from registry.models import MLModel

PAGE_SIZE = 50
SEVERITY_RANK = Case(
    *(When(severity=value, then=Value(rank)) for rank, value in enumerate(Severity.values)),
    default=Value(len(Severity.values)),
    output_field=IntegerField(),
)
OPEN_ITEMS = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)
ACTION_ITEM_SCOPE = {"review__incident__model": MLModel, "drill__playbook": Playbook}


def visible_incidents(user):
    """Incidents of the models ``user`` may see (the API's scoping)."""
    return scope_queryset(Incident.objects.all(), user, "model", MLModel)


def _page(request, queryset):
    paginator = Paginator(queryset, PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@require_GET
@login_required
def incident_list(request):
    """Active incidents (by default) of the user's teams, most severe first, then the
    nearest report deadline, with each serious incident's reporting clock."""
    now = timezone.now()
    scoped = visible_incidents(request.user)
    board = IncidentBoardFilter(request.GET, queryset=scoped)
    queryset = (
        board.qs.select_related("model__team", "model_version")
        .annotate(severity_rank=SEVERITY_RANK)
        .order_by("severity_rank", "report_deadline", "-opened_at", "-pk")
    )
    page = _page(request, queryset)
    rows = [{"incident": i, "clock": report_clock(i, now)} for i in page.object_list]
    active = Q(status__in=ACTIVE_STATUSES)
    summary = scoped.aggregate(
        **{value: Count("pk", filter=active & Q(severity=value)) for value in Severity.values},
        overdue=Count("pk", filter=report_overdue_q(now)),  # active or not: still unreported
    )
    return render(
        request,
        "playbooks/ui/incident_list.html",
        {
            "filter": board,
            "page": page,
            "rows": rows,
            "query": _query_without_page(request),
            "summary": [
                {"severity": value, "label": label, "count": summary[value]}
                for value, label in Severity.choices
            ],
            "overdue_count": summary["overdue"],
        },
    )


def _incident(request, pk) -> Incident:
    incident = (
        visible_incidents(request.user)
        .select_related(
            "model__team",
            "model_version",
            "deployment__environment",
            "playbook_version",
            "opened_by",
            "acknowledged_by",
            "contained_by",
            "resolved_by",
            "closed_by",
            "not_reportable_by",
        )
        .filter(pk=pk)
        .first()
    )
    if incident is None:
        raise Http404("No incident with this id is visible to you.")
    return incident


def _steps(incident) -> list[dict]:
    version = incident.playbook_version
    if version is None:
        return []
    done = {
        c.step: c
        for c in StepCompletion.objects.filter(incident=incident).select_related("completed_by")
    }
    return [
        {
            "number": n,
            "kind": step.get("kind", ""),
            "text": step.get("text", ""),
            "done": done.get(n),
        }
        for n, step in enumerate(version.steps, start=1)
    ]


def _review(incident):
    review = getattr(incident, "review", None)  # one query (reverse one-to-one)
    if review is None:
        return None, []
    items = list(
        ActionItem.objects.filter(review=review)
        .select_related("owner", "closed_by", "risk", "threshold")
        .order_by("due_date", "pk")
    )
    return review, items


def _next_level(incident):
    version = incident.playbook_version
    if version is None or incident.status != IncidentStatus.OPEN:
        return None
    return version.level(incident.escalation_level + 1)


def _history(incident, review):
    """The audit history of the incident, its review and the review's action items."""
    targets = [incident]
    if review is not None:
        targets += [review, ActionItem.objects.filter(review=review)]
    return history(*targets)


# The links a signal brings, by annotation (Grafana's) or field, and how they are shown.
SIGNAL_LINKS = (
    ("generator_url", "source"),
    ("grafana.dashboardURL", "dashboard"),
    ("grafana.panelURL", "panel"),
    ("grafana.silenceURL", "silence"),
    ("grafana.imageURL", "image"),
)
SIGNALS_SHOWN = 20


def _signals(incident) -> list[dict]:
    """The incident's latest signals with their links (http and https only: a link
    from a sender is never a script)."""
    shown = []
    for signal in incident.signals.order_by("-received_at", "-pk")[:SIGNALS_SHOWN]:
        links = []
        for key, label in SIGNAL_LINKS:
            url = signal.generator_url if key == "generator_url" else signal.annotations.get(key)
            if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
                links.append({"label": label, "url": url})
        shown.append({"signal": signal, "links": links})
    return shown


@require_GET
@login_required
def incident_detail(request, pk):
    incident = _incident(request, pk)
    may_act = may(request.user, "change", incident.model)
    review, items = _review(incident)
    allowed = INCIDENT_TRANSITIONS[incident.status]
    return render(
        request,
        "playbooks/ui/incident_detail.html",
        {
            "incident": incident,
            "clock": report_clock(incident, timezone.now()),
            "timeline": list(incident.timeline.select_related("actor").order_by("at", "pk")),
            "escalations": list(incident.escalations.order_by("notified_at", "level")),
            "signals": _signals(incident),
            "steps": _steps(incident),
            "review": review,
            "action_items": items,
            "open_item_statuses": OPEN_ITEMS,
            "may_act": may_act,
            "can": {
                "acknowledge": may_act and IncidentStatus.ACKNOWLEDGED in allowed,
                "contain": may_act and IncidentStatus.CONTAINED in allowed,
                "resolve": may_act and IncidentStatus.RESOLVED in allowed,
                "close": may_act and IncidentStatus.CLOSED in allowed,
                "escalate": may_act and _next_level(incident) is not None,
                "steps": may_act and incident.status != IncidentStatus.CLOSED,
            },
            "next_level": _next_level(incident),
            "history": _history(incident, review),
        },
    )


def _act(request, pk, perform, done: str):
    """Run one service call for an incident the user may see and change; a refusal
    is shown as a message. An incident out of sight is a 404, one in sight but not
    changeable a refusal message."""
    incident = _incident(request, pk)
    if not may(request.user, "change", incident.model):
        messages.error(request, "You may see this incident but not act on it.")
        return redirect("ui-incident-detail", pk=pk)
    note = request.POST.get("note", "").strip()
    try:
        message = perform(incident, note) or done
    except DomainError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, message)
    return redirect("ui-incident-detail", pk=pk)


@require_POST
@login_required
def acknowledge(request, pk):
    return _act(
        request,
        pk,
        lambda incident, note: incidents.acknowledge(incident, request.user, note=note) and None,
        "Acknowledged: escalation stops.",
    )


@require_POST
@login_required
def contain(request, pk):
    rollback = request.POST.get("rollback") == "on"

    def perform(incident, note):
        incidents.contain(incident, request.user, note=note, rollback=rollback)
        if rollback:
            return "Contained; a rollback request went to the gate."
        return None

    return _act(request, pk, perform, "Contained.")


@require_POST
@login_required
def resolve(request, pk):
    return _act(
        request,
        pk,
        lambda incident, note: incidents.resolve(incident, request.user, note=note) and None,
        "Resolved.",
    )


@require_POST
@login_required
def close(request, pk):
    return _act(
        request,
        pk,
        lambda incident, note: incidents.close(incident, request.user, note=note) and None,
        "Closed.",
    )


@require_POST
@login_required
def escalate(request, pk):
    """Notify the next level of the chain now, without waiting for its minutes."""

    def perform(incident, note):
        level = _next_level(incident)
        if level is None:
            raise incidents.IncidentConflict(
                "Only an open incident with a next escalation level can be escalated.",
                field="status",
            )
        with transaction.atomic():
            done = escalation.escalate(incident.pk, incident.escalation_level)
            if done is None:
                raise incidents.IncidentConflict(
                    "Someone acknowledged or escalated this incident meanwhile.", field="status"
                )
            incidents.add_comment(
                incident,
                request.user,
                f"Escalated by hand to level {done.level} ({done.group_name})."
                + (f" {note}" if note else ""),
            )
        return f"Level {done.level} ({done.group_name}) notified."

    return _act(request, pk, perform, "")


@require_POST
@login_required
def complete_step(request, pk, step):
    def perform(incident, note):
        incidents.complete_step(incident, step, request.user, note=note)
        return f"Step {step} done."

    return _act(request, pk, perform, "")


@require_POST
@login_required
def comment(request, pk):
    def perform(incident, note):
        incidents.add_comment(incident, request.user, note)
        return "Comment added."

    return _act(request, pk, perform, "")


@require_POST
@login_required
def complete_action_item(request, pk):
    """Complete an action item of a review or a drill the user may change."""
    scoped = scope_queryset(
        ActionItem.objects.select_related("review__incident__model", "drill__playbook"),
        request.user,
        ACTION_ITEM_SCOPE,
    )
    item = scoped.filter(pk=pk).first()
    if item is None:
        raise Http404("No action item with this id is visible to you.")
    back = (
        redirect("ui-incident-detail", pk=item.review.incident_id)
        if item.review_id
        else redirect("ui-drill-detail", pk=item.drill_id)
    )
    if not may(request.user, "change", follow(item, ACTION_ITEM_SCOPE)):
        messages.error(request, "You may see this action item but not complete it.")
        return back
    try:
        reviews.complete_action_item(item, request.user, note=request.POST.get("note", "").strip())
    except DomainError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Action item “{item.title}” done.")
    return back


# --- drills ---------------------------------------------------------------------------


def visible_drills(user):
    return scope_queryset(Drill.objects.all(), user, "playbook", Playbook)


@require_GET
@login_required
def drill_list(request):
    board = DrillBoardFilter(request.GET, queryset=visible_drills(request.user))
    queryset = board.qs.select_related("playbook__team", "playbook_version").annotate(
        open_items=Count(
            "action_items",
            filter=Q(
                action_items__status__in=(ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)
            ),
        )
    )
    page = _page(request, queryset.order_by("-scheduled_for", "-pk"))
    return render(
        request,
        "playbooks/ui/drill_list.html",
        {"filter": board, "page": page, "query": _query_without_page(request)},
    )


@require_GET
@login_required
def drill_detail(request, pk):
    drill = (
        visible_drills(request.user)
        .select_related("playbook__team", "playbook_version")
        .prefetch_related(
            "participants",
            Prefetch(
                "action_items",
                queryset=ActionItem.objects.select_related("owner", "closed_by"),
            ),
        )
        .filter(pk=pk)
        .first()
    )
    if drill is None:
        raise Http404("No drill with this id is visible to you.")
    return render(
        request,
        "playbooks/ui/drill_detail.html",
        {
            "drill": drill,
            "may_act": may(request.user, "change", drill.playbook),
            "open_item_statuses": OPEN_ITEMS,
            "steps": drill.playbook_version.steps if drill.playbook_version else [],
        },
    )
