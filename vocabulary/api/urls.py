from django.urls import path
from rest_framework.routers import SimpleRouter

from vocabulary.api.views import (
    AssignmentViewSet,
    ClassificationViewSet,
    GlossaryTermViewSet,
    SearchView,
    TagViewSet,
)

router = SimpleRouter()
router.register("glossary-terms", GlossaryTermViewSet, basename="glossaryterm")
router.register("classifications", ClassificationViewSet, basename="classification")
router.register("tags", TagViewSet, basename="tag")
router.register("tag-assignments", AssignmentViewSet, basename="tagassignment")

urlpatterns = [
    path("search", SearchView.as_view(), name="vocabulary-search"),
    *router.urls,
]
