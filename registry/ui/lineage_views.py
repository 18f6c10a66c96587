"""The model version's entry into the lineage picture: ``/lineage/model/<name>/<version>/``
opens the graph upstream of the version's training run. It lives in the registry,
which knows the training run; lineage never imports the registry."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from accounts.permissions import scope_queryset
from lineage import graph
from registry.models import MLModel, ModelVersion


@require_GET
@login_required
def model_lineage(request, name, version):
    """The picture upstream of ``name@version``'s training run (a 404 for a model the
    user may not see, as every model page)."""
    found = (
        scope_queryset(ModelVersion.objects.all(), request.user, "model", MLModel)
        .select_related("model", "training_run")
        .filter(model__name=name, version=version)
        .first()
    )
    if found is None:
        raise Http404("No model version with this name is visible to you.")
    if found.training_run is None:
        return render(request, "lineage/ui/no_training_run.html", {"version": found}, status=200)
    query = {
        "nodeId": graph.run_node_id(found.training_run),
        "direction": "upstream",
        "model": f"{name}@{version}",
    }
    return redirect(reverse("ui-lineage") + "?" + urlencode(query))


urlpatterns = [
    path(
        "model/<str:name>/<str:version>/",
        model_lineage,
        name="ui-model-lineage",
    ),
]
