from rest_framework import serializers

from audit.models import AuditEvent
from govreg_verify.events import HASHED_FIELDS


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [*HASHED_FIELDS, "hash"]
        read_only_fields = fields
