"""Lineage routes, mounted under /api/ by config/urls.py.

Marquez's wire contract lives under v1/ (exact paths, no trailing slash);
govreg's own lineage endpoints under lineage/.
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from lineage.api import intake, reads
from lineage.api.dvc import DvcImportView
from lineage.api.governance import DatasetVersionViewSet

router = SimpleRouter(trailing_slash=False)
router.register("lineage/dataset-versions", DatasetVersionViewSet, basename="datasetversion")

NS = "v1/namespaces/<path:namespace>"

urlpatterns = [
    path("v1/lineage", intake.LineageEndpoint.as_view(), name="lineage-intake"),
    path("v1/lineage/batch", intake.LineageBatchView.as_view(), name="lineage-batch"),
    path("v1/events/lineage", intake.LineageEventListView.as_view(), name="lineage-events"),
    path("v1/namespaces", reads.NamespaceListView.as_view(), name="lineage-namespaces"),
    path(f"{NS}/datasets", reads.DatasetListView.as_view(), name="lineage-datasets"),
    path(
        f"{NS}/datasets/<path:name>/versions",
        reads.DatasetVersionListView.as_view(),
        name="lineage-dataset-versions",
    ),
    path(f"{NS}/datasets/<path:name>", reads.DatasetDetailView.as_view(), name="lineage-dataset"),
    path(f"{NS}/jobs", reads.JobListView.as_view(), name="lineage-jobs"),
    path(f"{NS}/jobs/<path:name>/runs", reads.JobRunListView.as_view(), name="lineage-job-runs"),
    path(f"{NS}/jobs/<path:name>", reads.JobDetailView.as_view(), name="lineage-job"),
    path(NS, reads.NamespaceDetailView.as_view(), name="lineage-namespace"),
    path("v1/search", reads.SearchView.as_view(), name="lineage-search"),
    path("lineage/upstream", reads.UpstreamView.as_view(), name="lineage-upstream"),
    path("lineage/downstream", reads.DownstreamView.as_view(), name="lineage-downstream"),
    path("lineage/dvc-imports", DvcImportView.as_view(), name="lineage-dvc-import"),
    *router.urls,
]
