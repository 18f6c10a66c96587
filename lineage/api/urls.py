"""Lineage routes, mounted under /api/ by config/urls.py.

Marquez's wire contract lives under v1/ (exact paths, no trailing slash);
govreg's own lineage endpoints under lineage/. Every ``v1/namespaces/...`` route is
answered by one view that reads the whole path (``lineage.api.marquez.resolve``), so
names holding ``/`` resolve whichever route matched; the named routes are there for
``reverse`` and the route matrix.
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from lineage.api import intake, marquez, reads
from lineage.api.dvc import DvcImportView
from lineage.api.governance import DatasetVersionViewSet

router = SimpleRouter(trailing_slash=False)
router.register("lineage/dataset-versions", DatasetVersionViewSet, basename="datasetversion")

NS = "v1/namespaces/<path:namespace>"
DS = f"{NS}/datasets/<path:name>"
JOB = f"{NS}/jobs/<path:name>"
namespaced = marquez.NamespacePathView.as_view()

urlpatterns = [
    path("v1/lineage", intake.LineageEndpoint.as_view(), name="lineage-intake"),
    path("v1/lineage/batch", intake.LineageBatchView.as_view(), name="lineage-batch"),
    path("v1/events/lineage", reads.LineageEventListView.as_view(), name="lineage-events"),
    path("v1/namespaces", reads.NamespaceListView.as_view(), name="lineage-namespaces"),
    path(f"{NS}/datasets", namespaced, name="lineage-datasets"),
    path(f"{DS}/versions/<path:version>", namespaced, name="lineage-dataset-version"),
    path(f"{DS}/versions", namespaced, name="lineage-dataset-versions"),
    path(f"{DS}/fields/<path:field>/tags/<str:tag>", namespaced, name="lineage-field-tag"),
    path(f"{DS}/tags/<str:tag>", namespaced, name="lineage-dataset-tag"),
    path(DS, namespaced, name="lineage-dataset"),
    path(f"{NS}/jobs", namespaced, name="lineage-jobs"),
    path(f"{JOB}/runs", namespaced, name="lineage-job-runs"),
    path(f"{JOB}/versions/<path:version>", namespaced, name="lineage-job-version"),
    path(f"{JOB}/versions", namespaced, name="lineage-job-versions"),
    path(JOB, namespaced, name="lineage-job"),
    path(NS, namespaced, name="lineage-namespace"),
    path("v1/jobs", marquez.AllJobsView.as_view(), name="lineage-all-jobs"),
    path(
        "v1/jobs/runs/<path:run_id>/facets",
        marquez.RunFacetsView.as_view(),
        name="lineage-run-facets",
    ),
    path("v1/jobs/runs/<path:run_id>", marquez.RunDetailView.as_view(), name="lineage-run"),
    path(
        "v1/runlineage/upstream",
        marquez.RunLineageUpstreamView.as_view(),
        name="lineage-run-upstream",
    ),
    path("v1/column-lineage", marquez.ColumnLineageView.as_view(), name="lineage-column-lineage"),
    path("v1/sources", marquez.SourceListView.as_view(), name="lineage-sources"),
    path("v1/sources/<path:source>", marquez.SourceDetailView.as_view(), name="lineage-source"),
    path("v1/tags", marquez.TagListView.as_view(), name="lineage-tags"),
    path("v1/tags/<str:tag>", marquez.TagView.as_view(), name="lineage-tag"),
    *(
        path(f"v1/stats/{kind}", marquez.StatsView.as_view(kind=kind), name=f"lineage-stats-{kind}")
        for kind in ("lineage-events", "jobs", "datasets", "sources")
    ),
    path("v1/search", reads.SearchView.as_view(), name="lineage-search"),
    path("lineage/upstream", reads.UpstreamView.as_view(), name="lineage-upstream"),
    path("lineage/downstream", reads.DownstreamView.as_view(), name="lineage-downstream"),
    path("lineage/dvc-imports", DvcImportView.as_view(), name="lineage-dvc-import"),
    *router.urls,
]
