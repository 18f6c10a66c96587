import base64

from django.urls import reverse
from rest_framework import serializers

from audit.models import AuditEvent, AuditExport, AuditSigningKey
from config.serializers import FullCleanSerializer
from govreg_verify.events import HASHED_FIELDS, canonical, format_time


class CanonicalTimeField(serializers.DateTimeField):
    """The time exactly as it was hashed (``govreg_verify.events.format_time``)."""

    def to_representation(self, value):
        return format_time(value)


class AuditEventSerializer(serializers.ModelSerializer):
    """An event as it was hashed: every hashed field in its hashed form, plus ``hash``
    and ``canonical``, the exact text whose SHA-256 is ``hash``."""

    created_at = CanonicalTimeField(read_only=True)
    canonical = serializers.SerializerMethodField(
        help_text="the canonical serialization that was hashed (SHA-256 of it is `hash`)"
    )

    class Meta:
        model = AuditEvent
        fields = [*HASHED_FIELDS, "hash", "canonical"]
        read_only_fields = fields

    def get_canonical(self, event) -> str:
        return canonical(event.as_record()).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class CheckpointSerializer(serializers.Serializer):
    origin = serializers.CharField()
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField(help_text="base64 of the 32-byte Merkle root")
    key_id = serializers.CharField(help_text="hex of the signed-note key id")
    created_at = serializers.DateTimeField()
    note = serializers.CharField(help_text="the signed note, as `govreg verify` reads it")


class ProofSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    leaf_index = serializers.IntegerField(help_text="seq - 1")
    tree_size = serializers.IntegerField()
    event_hash = serializers.CharField(help_text="hex SHA-256 of the event: the leaf data")
    audit_path = serializers.ListField(child=serializers.CharField(), help_text="base64 hashes")
    root_hash = serializers.CharField(help_text="base64 root of the first tree_size events")
    checkpoint = serializers.CharField(
        allow_null=True, help_text="the signed checkpoint at tree_size, if one was signed"
    )


class ConsistencySerializer(serializers.Serializer):
    from_size = serializers.IntegerField()
    to_size = serializers.IntegerField()
    proof = serializers.ListField(child=serializers.CharField(), help_text="base64 hashes")
    from_root = serializers.CharField()
    to_root = serializers.CharField()
    from_checkpoint = serializers.CharField(allow_null=True)
    to_checkpoint = serializers.CharField(allow_null=True)


class SigningKeySerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = AuditSigningKey
        fields = ["key_id", "origin", "status", "public_key", "created_at", "retired_at"]
        read_only_fields = fields

    def get_status(self, row) -> str:
        return "retired" if row.retired_at else "current"


class AuditExportSerializer(FullCleanSerializer):
    clean_exclude = ("created_at",)
    download = serializers.SerializerMethodField()

    class Meta:
        model = AuditExport
        fields = [
            "id",
            "status",
            "percent",
            "events",
            "total",
            "after",
            "before",
            "object_type",
            "object_id",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "tree_size",
            "size",
            "sha256",
            "error",
            "download",
        ]
        read_only_fields = [
            name for name in fields if name not in {"after", "before", "object_type", "object_id"}
        ]
        extra_kwargs = {"after": {"required": True}, "before": {"required": True}}

    def get_download(self, export) -> str | None:
        if export.status != AuditExport.Status.DONE:
            return None
        path = reverse("auditexport-download", args=[export.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
