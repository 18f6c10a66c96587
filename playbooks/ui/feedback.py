"""The console's feedback reports: the reports on the models the user may see (the
API's scoping, ``/api/feedback/``), one report with its text, the signal it entered
triage as and the incident that signal opened, and the team's public reply and
status change through ``playbooks.services.feedback`` (CSRF-protected POSTs; only
the model's team may answer, as on the API)."""

import django_filters
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import may, scope_queryset
from config.errors import DomainError
from playbooks.choices import FeedbackCategory, FeedbackStatus
from playbooks.models import FeedbackReport
from playbooks.services import feedback
from registry.models import MLModel

PAGE_SIZE = 50
TEAM_ONLY = "Only the model's team answers its feedback."
_RELATED = (
    "model__team",
    "environment",
    "model_version",
    "signal__incident",
    "submitted_by",
    "replied_by",
)


class FeedbackBoardFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=FeedbackStatus.choices, empty_label="any")
    category = django_filters.ChoiceFilter(choices=FeedbackCategory.choices, empty_label="any")

    class Meta:
        model = FeedbackReport
        fields = ["status", "category"]


def visible_reports(user):
    return scope_queryset(FeedbackReport.objects.all(), user, "model", MLModel)


@require_GET
@login_required
def report_list(request):
    board = FeedbackBoardFilter(request.GET, queryset=visible_reports(request.user))
    queryset = board.qs.select_related(*_RELATED).order_by("-received_at", "-pk")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "playbooks/ui/feedback_list.html",
        {"filter": board, "page": page, "query": query.urlencode()},
    )


def _report(user, pk):
    report = visible_reports(user).select_related(*_RELATED).filter(pk=pk).first()
    if report is None:
        raise Http404("No feedback report with this id is visible to you.")
    return report


@require_GET
@login_required
def report_detail(request, pk):
    report = _report(request.user, pk)
    return render(
        request,
        "playbooks/ui/feedback_detail.html",
        {
            "report": report,
            "may_answer": may(request.user, "change", report.model),
            "statuses": FeedbackStatus.choices,
        },
    )


def _act(request, pk, act, done: str, *, needs_status: bool = False):
    report = _report(request.user, pk)
    if not may(request.user, "change", report.model):
        messages.error(request, TEAM_ONLY)
        return redirect("ui-feedback-detail", pk=pk)
    status = request.POST.get("status", "").strip()
    if needs_status and not status:
        messages.error(request, "status: choose a status.")
        return redirect("ui-feedback-detail", pk=pk)
    if status and status not in FeedbackStatus.values:
        messages.error(request, f"status: no such status {status!r}.")
        return redirect("ui-feedback-detail", pk=pk)
    try:
        act(report, status)
    except DomainError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done.format(reference=report.reference))
    return redirect("ui-feedback-detail", pk=pk)


@require_POST
@login_required
def reply(request, pk):
    """The team's public reply, shown on the reporter's status page."""
    text = request.POST.get("reply", "")
    return _act(
        request,
        pk,
        lambda report, status: feedback.reply(report, request.user, text=text, status=status),
        "Reply to {reference} published.",
    )


@require_POST
@login_required
def set_status(request, pk):
    return _act(
        request,
        pk,
        lambda report, status: feedback.set_status(report, request.user, status=status),
        "Status of {reference} changed.",
        needs_status=True,
    )
