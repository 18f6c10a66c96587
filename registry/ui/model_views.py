"""The model pages: the list of models (filters, pages) and one model's page with its
card, versions, deployment timeline, what other apps register (risks, evaluations,
thresholds, incidents), the dossier downloads and its history.

Reads only, through ``accounts.permissions.scope_queryset``: a model the user may not
see is a 404, as in the API.
"""

import django_filters
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.permissions import scope_queryset
from accounts.roles import teams
from audit.ui.history import history
from registry.choices import DeploymentState, RiskTier
from registry.models import Approval, Deployment, DeploymentRequest, MLModel
from registry.ui.sections import model_sections_for

PAGE_SIZE = 50
VERSIONS_SHOWN = 50
DEPLOYMENTS_SHOWN = 50


def visible_models(user):
    """Models the user may see: their teams', or every one for board, auditors, admins;
    those they hold the approve right on, too."""
    return scope_queryset(MLModel.objects.all(), user, action=("view", "approve"))


class ModelListFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    team = django_filters.ModelChoiceFilter(
        queryset=teams(), to_field_name="name", empty_label="any team", label="Team"
    )
    risk_tier = django_filters.ChoiceFilter(
        choices=RiskTier.choices, empty_label="any tier", label="Risk tier"
    )

    class Meta:
        model = MLModel
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["q"].widget = forms.TextInput(
            attrs={"type": "search", "placeholder": "name or description"}
        )

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


@require_GET
@login_required
def model_list(request):
    models = (
        visible_models(request.user)
        .select_related("team")
        .annotate(version_count=Count("versions", distinct=True))
        .order_by("name")
    )
    filters = ModelListFilter(request.GET, queryset=models)
    queryset = filters.qs if filters.is_valid() else models.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    serving: dict[int, list[str]] = {}
    for model_id, environment in (
        Deployment.objects.filter(state=DeploymentState.LIVE, model__in=[m.pk for m in shown])
        .order_by("environment__order")
        .values_list("model_id", "environment__name")
    ):
        serving.setdefault(model_id, []).append(environment)
    for model in shown:
        model.live_in = serving.get(model.pk, [])
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "registry/ui/model_list.html",
        {"filters": filters, "page": page, "models": shown, "query": query.urlencode()},
    )


def _card(model) -> list[dict]:
    names = list(MLModel.CARD_FIELDS) + list(getattr(MLModel, "REGULATORY_FIELDS", ()))
    return [
        {
            "name": name,
            "label": MLModel._meta.get_field(name).verbose_name,
            "value": str(getattr(model, name) or "").strip(),
            "required": name in MLModel.CARD_FIELDS,
        }
        for name in names
    ]


def _timeline(model) -> list[Deployment]:
    """Deployments newest first, with what each replaced or rolled back, and the gate's
    request that shipped it with its approvals."""
    approvals = Approval.objects.select_related("approver").order_by("created_at", "pk")
    requests = DeploymentRequest.objects.prefetch_related(Prefetch("approvals", approvals))
    return list(
        Deployment.objects.filter(model=model)
        .select_related("model_version", "environment", "deployed_by", "rollback_of__model_version")
        .prefetch_related(Prefetch("deployment_request", requests))
        .order_by("-deployed_at", "-pk")[:DEPLOYMENTS_SHOWN]
    )


@require_GET
@login_required
def model_detail(request, name):
    model = visible_models(request.user).select_related("team").filter(name=name).first()
    if model is None:
        raise Http404("No model with this name is visible to you.")
    versions = list(
        model.versions.select_related("registered_by", "training_run__job").order_by(
            "-created_at", "-pk"
        )[:VERSIONS_SHOWN]
    )
    timeline = _timeline(model)
    live = [d for d in timeline if d.state == DeploymentState.LIVE]
    live_by_version: dict[int, list[str]] = {}
    for deployment in live:
        live_by_version.setdefault(deployment.model_version_id, []).append(
            deployment.environment.name
        )
    for version in versions:
        version.live_in = live_by_version.get(version.pk, [])
    requests = DeploymentRequest.objects.filter(model_version__model=model)
    return render(
        request,
        "registry/ui/model_detail.html",
        {
            "model": model,
            "card": _card(model),
            "versions": versions,
            "more_versions": len(versions) == VERSIONS_SHOWN,
            "timeline": timeline,
            "live": live,
            "sections": model_sections_for(model, request.user),
            "history": history(
                model, model.versions.all(), model.deployments.all(), requests, limit=25
            ),
        },
    )
