from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from config import views
from playbooks.api.incidents import SeriousReportSchemaView

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/login/", views.admin_sign_in, name="admin-sign-in"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("audit.api.urls")),
    path("api/", include("accounts.api.urls")),
    path("api/", include("vocabulary.api.urls")),
    path("api/", include("lineage.api.urls")),
    path("api/", include("registry.api.urls")),
    path("api/", include("risk.api.urls")),
    path("api/", include("playbooks.api.urls")),
    path(
        "api/schemas/serious-incident-report.json",
        SeriousReportSchemaView.as_view(),
        name="serious-report-schema",
    ),
    # Last under api/: an unknown API path answers JSON even with DEBUG on, where
    # Django would otherwise show its HTML debug page instead of handler404.
    re_path(r"^api/", views.api_not_found, name="api-not-found"),
    path("", include("console.urls")),
    path("cards/", include("registry.ui.public_urls")),
    path("", include("playbooks.public_urls")),
    path("oidc/", include("accounts.oidc")),  # single sign-on; 404 while it is off
    path("", include("registry.ui.urls")),
    path("risks/", include("risk.ui.urls")),
    path("redteam/", include("risk.ui.redteam_urls")),
    path("audit/", include("audit.ui.urls")),
    path("", include("playbooks.ui.urls")),
    path("lineage/", include("lineage.ui.urls")),
    path("vocabulary/", include("vocabulary.urls")),
    path("lineage/", include("registry.ui.lineage_views")),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
