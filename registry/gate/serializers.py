"""The gate's answers, rendered by the serializers that are also their OpenAPI schema.

A deployment request reads the same everywhere it is answered: the gate's verbs,
the list, and the catalog's rollback into a protected environment (202). Times are
ISO 8601 as Python writes them (``2026-04-06T08:00:00+00:00``), which pipelines and
the CLI have always read.
"""

from rest_framework import serializers

from config.serializers import FieldsBuiltOnce
from registry.choices import RequestKind, RequestOutcome, RequestStatus, Verdict
from registry.models import Approval, DeploymentRequest


class IsoDateTimeField(serializers.DateTimeField):
    """A stored moment as ``datetime.isoformat()`` writes it (the gate's format)."""

    def to_representation(self, value):
        return value.isoformat()


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice stored as ``""`` when there is none, answered as ``null``."""

    def to_representation(self, value):
        return super().to_representation(value) if value else None


class ApprovalSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.get_username")
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    roles = serializers.ListField(child=serializers.CharField())
    created_at = IsoDateTimeField()
    valid = serializers.SerializerMethodField()
    lapsed_at = IsoDateTimeField(allow_null=True)

    class Meta:
        model = Approval
        fields = [
            "id",
            "approver",
            "verdict",
            "comment",
            "roles",
            "created_at",
            "valid",
            "lapsed_at",
            "lapse_reason",
        ]
        read_only_fields = fields

    def get_valid(self, approval) -> bool:
        """Still counts: not lapsed."""
        return approval.lapsed_at is None


class CheckResultSerializer(FieldsBuiltOnce, serializers.Serializer):
    name = serializers.CharField()
    passed = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)

    def to_representation(self, check):
        # the stored checks are dicts: read their keys, not attributes
        return {"name": check["name"], "passed": check["passed"], "reason": check["reason"]}


class RequiredApprovalSerializer(FieldsBuiltOnce, serializers.Serializer):
    role = serializers.CharField()
    count = serializers.IntegerField()
    have = serializers.IntegerField(required=False)
    missing = serializers.IntegerField(required=False)

    def to_representation(self, row):
        return row  # stored as the gate wrote it: answered as is


class RequestDeploymentSerializer(FieldsBuiltOnce, serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    deployed_at = IsoDateTimeField()


class DeploymentRequestSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """The gate's answer on one request, as pipelines and the CLI read it."""

    kind = serializers.ChoiceField(choices=RequestKind.choices)
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    outcome = BlankAsNullChoiceField(
        choices=[c for c in RequestOutcome.choices if c[0]], allow_null=True
    )
    model = serializers.CharField(source="model_version.model.name")
    version = serializers.CharField(source="model_version.version")
    environment = serializers.CharField(source="environment.name")
    requested_by = serializers.CharField(source="requested_by.get_username")
    checks = CheckResultSerializer(many=True)
    reasons = serializers.ListField(child=serializers.CharField())
    approvals = ApprovalSerializer(many=True)
    required = RequiredApprovalSerializer(many=True)
    superseded_by = serializers.IntegerField(source="superseded_by_id", allow_null=True)
    deployment = RequestDeploymentSerializer(allow_null=True)
    pipeline_run_url = serializers.CharField(help_text="The pipeline run's URL; empty if none.")
    created_at = IsoDateTimeField()
    decided_at = IsoDateTimeField(allow_null=True)

    class Meta:
        model = DeploymentRequest
        fields = [
            "id",
            "kind",
            "status",
            "outcome",
            "model",
            "version",
            "environment",
            "requested_by",
            "pipeline_run_url",
            "commit",
            "note",
            "checks",
            "reasons",
            "approvals",
            "required",
            "fingerprint",
            "superseded_by",
            "deployment",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields


def request_body(deployment_request: DeploymentRequest) -> dict:
    """The gate's answer on ``deployment_request`` (its approvals as loaded)."""
    return DeploymentRequestSerializer(deployment_request).data


__all__ = [
    "ApprovalSerializer",
    "DeploymentRequestSerializer",
    "request_body",
]
