from rest_framework import serializers

from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "created_at",
            "actor_id",
            "actor_username",
            "actor_token",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
            "request_id",
            "source_address",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields
