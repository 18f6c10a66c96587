"""Dataset version governance: status (active, quarantined, revoked) and notes.

``/api/lineage/dataset-versions`` lists and shows versions to anyone signed
in; PATCH goes through ``services.change_dataset_version`` (locked, audited,
signalled) and needs the ml-engineer or admin role, or the model
permission ``lineage.change_datasetversion``.
"""

import django_filters
from rest_framework import mixins, serializers, viewsets

from accounts.permissions import ActionPermission, TokenScopePermission
from lineage.choices import VersionStatus
from lineage.models import DatasetVersion
from lineage.services import NOTE_FIELDS, change_dataset_version


class DatasetVersionSerializer(serializers.ModelSerializer):
    namespace = serializers.CharField(source="dataset.namespace.name", read_only=True)
    dataset = serializers.CharField(source="dataset.name", read_only=True)
    producing_run = serializers.UUIDField(
        source="producing_run.run_id", read_only=True, allow_null=True
    )
    status = serializers.ChoiceField(choices=VersionStatus.choices, required=False)

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "namespace",
            "dataset",
            "version",
            "content_hash",
            "status",
            *NOTE_FIELDS,
            "producing_run",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "version", "content_hash", "created_at", "updated_at"]

    def update(self, instance, validated_data):
        return change_dataset_version(
            instance,
            actor=self.context["request"].user,
            status=validated_data.pop("status", None),
            **validated_data,
        )


class DatasetVersionFilter(django_filters.FilterSet):
    namespace = django_filters.CharFilter(field_name="dataset__namespace__name")
    dataset = django_filters.CharFilter(field_name="dataset__name")
    content_hash = django_filters.CharFilter()

    class Meta:
        model = DatasetVersion
        fields = ["status", "namespace", "dataset", "version", "content_hash"]


class DatasetVersionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = DatasetVersionSerializer
    permission_classes = [ActionPermission, TokenScopePermission]
    write_permission = ("change", "lineage.datasetversion")
    permission_denied_message = "Changing a dataset version needs the ml-engineer or admin role."
    filterset_class = DatasetVersionFilter
    queryset = DatasetVersion.objects.select_related(
        "dataset__namespace", "producing_run"
    ).order_by("-created_at", "-pk")
    http_method_names = ["get", "patch", "put", "head", "options"]
