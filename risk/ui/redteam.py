"""The red-team pages (under /redteam/): the exercises the user may see, with
their filters, and one exercise with its findings, each finding's risk, its red-team
evaluation and where the fix stands on every version in scope; and the home panel
"red-team exercises due" (high-tier models past their cadence, blocking findings).

Reads only: exercises and findings are recorded through the API (``risk.redteam``).
Every read goes through ``accounts.permissions.scope_queryset``; another team's
exercise is a 404.
"""

import django_filters
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.permissions import may_any, scope_queryset
from audit.ui.history import history
from console.registry import Panel, home_panel
from registry.models import MLModel
from risk import redteam
from risk.choices import BLOCKING_SEVERITIES, EvaluationKind, ExerciseStatus, FindingStatus
from risk.filtersets import RedTeamExerciseFilter
from risk.models import Evaluation, RedTeamExercise, RedTeamFinding

PAGE_SIZE = 50
PANEL_ROWS = 10


class ExerciseListFilter(RedTeamExerciseFilter):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=ExerciseStatus.choices, empty_label="Any")

    class Meta(RedTeamExerciseFilter.Meta):
        fields = ["q", "team", "model", "status"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(title__icontains=value) | Q(scope__icontains=value) | Q(method__icontains=value)
        )


def visible_exercises(user):
    return scope_queryset(RedTeamExercise.objects.all(), user)


@require_GET
@login_required
def exercise_list(request):
    """The exercises the user may see, newest first, with their open blocking findings."""
    visible = visible_exercises(request.user)
    filters = ExerciseListFilter(request.GET, queryset=visible, request=request)
    exercises = filters.qs if filters.is_valid() else visible.none()
    blocking = Q(findings__severity__in=BLOCKING_SEVERITIES, findings__status=FindingStatus.OPEN)
    exercises = (
        exercises.select_related("team")
        .prefetch_related("model_versions__model")
        .annotate(
            finding_count=Count("findings", distinct=True),
            blocking_count=Count("findings", filter=blocking, distinct=True),
        )
        .order_by("-starts_on", "-pk")
    )
    page = Paginator(exercises, PAGE_SIZE).get_page(request.GET.get("page"))
    keep = request.GET.copy()
    keep.pop("page", None)
    return render(
        request,
        "risk/ui/redteam_list.html",
        {
            "filters": filters,
            "page": page,
            "exercises": list(page.object_list),
            "query": keep.urlencode(),
        },
    )


@require_GET
@login_required
def exercise_page(request, pk):
    """One exercise: its scope and people, and each finding with where its fix stands."""
    exercise = (
        visible_exercises(request.user)
        .select_related("team", "created_by")
        .prefetch_related(
            "model_versions__model",
            "participants",
            Prefetch(
                "findings",
                queryset=RedTeamFinding.objects.select_related(
                    "risk", "fixed_by__model_version", "acceptance", "reported_by"
                ).order_by("pk"),
            ),
        )
        .filter(pk=pk)
        .first()
    )
    if exercise is None:
        raise Http404("No red-team exercise with this id is visible to you.")
    versions = list(exercise.model_versions.all())
    findings = list(exercise.findings.all())
    results = {}
    for evaluation in Evaluation.objects.filter(
        kind=EvaluationKind.RED_TEAM,
        model_version__in=versions,
        name__in=[f.evaluation_name for f in findings],
    ).order_by("created_at", "pk"):
        results[(evaluation.name, evaluation.model_version_id)] = evaluation
    for finding in findings:
        finding.per_version = [
            {"version": v, "result": results.get((finding.evaluation_name, v.pk))} for v in versions
        ]
    return render(
        request,
        "risk/ui/redteam_exercise.html",
        {
            "exercise": exercise,
            "versions": versions,
            "participants": list(exercise.participants.all()),
            "findings": findings,
            "history": history(exercise, exercise.findings.all(), limit=25),
        },
    )


# --- home panel ----------------------------------------------------------------------


@home_panel("redteam-due", order=35)
def redteam_due(request):
    """Models the user may see that are past their tier's red-team cadence, and the
    number of open high or critical findings on the exercises they may see."""
    user = request.user
    if not may_any(user, "view", RedTeamExercise) and not may_any(user, "view", MLModel):
        return None
    models = scope_queryset(MLModel.objects.all(), user)
    due = redteam.exercises_due(models)
    blocking = (
        RedTeamFinding.objects.filter(
            exercise__in=visible_exercises(user).values("pk"),
            severity__in=BLOCKING_SEVERITIES,
            status=FindingStatus.OPEN,
        )
        .select_related("exercise")
        .order_by("-pk")
    )
    open_findings = list(blocking[: PANEL_ROWS + 1])
    if not due and not open_findings:
        return None
    return Panel(
        "Red-team exercises due",
        "risk/ui/_redteam_panel.html",
        {
            "due": due[:PANEL_ROWS],
            "more_due": len(due) > PANEL_ROWS,
            "findings": open_findings[:PANEL_ROWS],
            "more_findings": len(open_findings) > PANEL_ROWS,
        },
        count=len(due) if len(due) <= PANEL_ROWS else None,
        tone="alert" if due or open_findings else "",
    )
