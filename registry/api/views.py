from accounts.api.base import ScopedModelViewSet
from registry.api.serializers import MLModelSerializer
from registry.filtersets import MLModelFilter
from registry.models import MLModel
from registry.services import register_model


class MLModelViewSet(ScopedModelViewSet):
    """Models, scoped to the teams the caller belongs to (global roles see all)."""

    queryset = MLModel.objects.select_related("team").order_by("name")
    serializer_class = MLModelSerializer
    filterset_class = MLModelFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "risk_tier", "created_at"]

    def perform_create(self, serializer):
        self.check_create_scope(serializer)
        serializer.instance = register_model(**serializer.validated_data)
