"""The registry's entries in the console: navigation, home panels (requests awaiting my
approval, the "live now" matrix), the revoked-data health mark, and how the audit
trail's "changes since my last visit" finds the registry's records a user may see."""

from django.db.models import Exists, OuterRef

from accounts.permissions import may_any, scope_queryset
from accounts.roles import Role, has_role
from audit.ui.history import event_scope
from console.registry import Panel, home_panel, nav_entry
from lineage import graph
from lineage.models import DatasetVersion
from registry.choices import DeploymentState, RequestStatus
from registry.gate import decisions
from registry.gate.api import visible_requests
from registry.models import (
    Approval,
    Deployment,
    DeploymentRequest,
    Environment,
    MLModel,
    ModelVersion,
)
from registry.services import BLOCKING_DATASET_STATUSES
from registry.ui.health import Mark, health_mark, marks_for

nav_entry(
    "Models",
    "ui-model-list",
    order=10,
    section="/models/",
    visible=lambda user: may_any(user, ("view", "approve"), MLModel),
)
nav_entry(
    "Requests",
    "ui-request-list",
    order=20,
    section="/requests/",
    visible=lambda user: may_any(user, ("view", "approve"), MLModel),
)

PANEL_ROWS = 10
# Requests read to find the first PANEL_ROWS the user may approve (a few more than shown,
# for those a training-run authorship rules out): bounded, whatever the data size.
CANDIDATES = PANEL_ROWS * 3
MATRIX_MODELS = 20


def awaiting_my_approval(user):
    """Pending requests of models ``user`` holds the approve right on, that they have
    not decided on (an approval that lapsed asks again), did not ask for, and whose
    version they did not register: a queryset, newest first. The training run's
    authors are ruled out per row by ``conflicted_users`` (``approvable``)."""
    decided = Approval.objects.filter(request=OuterRef("pk"), approver=user, lapsed_at__isnull=True)
    return (
        scope_queryset(
            DeploymentRequest.objects.filter(status=RequestStatus.PENDING),
            user,
            "model_version__model",
            MLModel,
            "approve",
        )
        .exclude(Exists(decided))
        .exclude(requested_by=user)
        .exclude(model_version__registered_by=user)
        .select_related("model_version__model", "model_version__training_run__job", "environment")
        .order_by("-created_at", "-pk")
    )


def approvable(user, requests) -> list:
    """The requests ``user`` may approve now: the decision right (``can_approve``) and
    separation of duties (``conflicted_users``), as the decision page asks."""
    rows = []
    for deployment_request in requests:
        version = deployment_request.model_version
        allowed, _ = decisions.can_approve(user, deployment_request.action, version.model)
        conflicts = decisions.conflicted_users(version, deployment_request.requested_by_id)
        if allowed and user.pk not in conflicts:
            rows.append(deployment_request)
    return rows


@home_panel("pending-requests", order=10)
def pending_requests(request):
    """For approvers: the requests waiting for their approval. For everyone else who
    sees requests (board, auditors, engineers): the pending ones they may see."""
    user = request.user
    if has_role(user, Role.APPROVER):
        candidates = list(awaiting_my_approval(user)[:CANDIDATES])
        rows = approvable(user, candidates)
        more = len(rows) > PANEL_ROWS or len(candidates) == CANDIDATES
        return Panel(
            "Requests awaiting my approval",
            "registry/ui/_pending_panel.html",
            {"rows": rows[:PANEL_ROWS], "more": more, "mine": True},
            count=None if more else len(rows),
            tone="alert" if rows else "",
        )
    if not may_any(user, ("view", "approve"), MLModel):
        return None
    pending = (
        visible_requests(user)
        .filter(status=RequestStatus.PENDING)
        .select_related("model_version__model", "environment")
        .order_by("-created_at", "-pk")
    )
    rows = list(pending[: PANEL_ROWS + 1])
    return Panel(
        "Deployment requests pending",
        "registry/ui/_pending_panel.html",
        {"rows": rows[:PANEL_ROWS], "more": len(rows) > PANEL_ROWS, "mine": False},
        count=len(rows) if len(rows) <= PANEL_ROWS else None,
    )


def live_matrix(user, limit: int = MATRIX_MODELS) -> dict:
    """Models x environments: what serves where now, for the first ``limit`` models
    (by name) the user may see that serve somewhere, with each deployment's health
    marks; environments where none of them serves are left out. Four queries plus
    the registered mark functions', whatever the data size."""
    environments = list(Environment.objects.order_by("order"))
    serving = Deployment.objects.filter(model=OuterRef("pk"), state=DeploymentState.LIVE)
    models = list(
        scope_queryset(MLModel.objects.all(), user, action=("view", "approve"))
        .filter(Exists(serving))
        .order_by("name")
        .only("pk", "name", "risk_tier")[: limit + 1]
    )
    more, models = len(models) > limit, models[:limit]
    deployments = list(
        Deployment.objects.filter(model__in=models, state=DeploymentState.LIVE).select_related(
            "model", "model_version", "environment"
        )
    )
    marks = marks_for(deployments)
    cells = {(d.model_id, d.environment_id): d for d in deployments}
    # an environment where none of these models serves is left out (narrow screens)
    serving_in = {d.environment_id for d in deployments}
    environments = [e for e in environments if e.pk in serving_in]
    rows = []
    for model in models:
        row = []
        for environment in environments:
            deployment = cells.get((model.pk, environment.pk))
            row.append(
                {
                    "environment": environment,
                    "deployment": deployment,
                    "marks": marks.get(deployment.pk, []) if deployment else [],
                }
            )
        rows.append({"model": model, "cells": row})
    return {"environments": environments, "rows": rows, "more": more}


@home_panel("live-now", order=5)
def live_now(request):
    """The wide "live now" matrix."""
    if not may_any(request.user, ("view", "approve"), MLModel):
        return None
    matrix = live_matrix(request.user)
    unhealthy = sum(1 for row in matrix["rows"] for cell in row["cells"] if cell["marks"])
    return Panel(
        "Live now",
        "registry/ui/_live_panel.html",
        matrix,
        count=unhealthy or None,
        tone="alert" if unhealthy else "",
        wide=True,
    )


@health_mark("training-data", order=30)
def blocked_training_data(deployments):
    """A deployment whose version was trained, directly or not, on a revoked or
    quarantined dataset version: one walk downstream of those versions."""
    blocked = dict(
        DatasetVersion.objects.filter(status__in=BLOCKING_DATASET_STATUSES).values_list(
            "pk", "status"
        )
    )
    if not blocked:
        return {}
    tainted = graph.downstream_run_ids(blocked.keys())
    statuses = sorted(set(blocked.values()))
    label = "revoked data" if "revoked" in statuses else "quarantined data"
    return {
        d.pk: [
            Mark(
                label,
                "bad",
                f"{d.model_version} was trained on a {' or '.join(statuses)} dataset version.",
            )
        ]
        for d in deployments
        if d.model_version.training_run_id in tainted
    }


# --- what the home page's "changes since my last visit" may show ---------------------------


@event_scope("registry.mlmodel")
def _models(user):
    return scope_queryset(MLModel.objects.all(), user, action=("view", "approve"))


@event_scope("registry.modelversion")
def _versions(user):
    return scope_queryset(ModelVersion.objects.all(), user, "model", MLModel, ("view", "approve"))


@event_scope("registry.deployment")
def _deployments(user):
    return scope_queryset(Deployment.objects.all(), user, "model", MLModel, ("view", "approve"))


@event_scope("registry.deploymentrequest")
def _requests(user):
    return visible_requests(user)
