"""Signals as received and triaged, the intake bodies, investigation tasks."""

import math

from rest_framework import serializers

from accounts.api.fields import VisibleSlugRelatedField
from playbooks.api.serializers.common import _username
from playbooks.choices import AlertStatus
from playbooks.models import InvestigationTask, Signal
from registry.models import MLModel


class PlainSignalSerializer(serializers.Serializer):
    """``POST /api/signals/``: one observation from any monitoring system."""

    metric = serializers.CharField(max_length=200)
    value = serializers.FloatField()
    model = serializers.CharField(max_length=100)
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    deployment = serializers.IntegerField(required=False, min_value=1)
    environment = serializers.CharField(max_length=100, required=False, allow_blank=True)
    observed_at = serializers.DateTimeField(required=False)
    source = serializers.CharField(max_length=200, required=False, allow_blank=True)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def validate_value(self, value):
        if not math.isfinite(value):
            raise serializers.ValidationError("Give a finite number.")
        return value


class AlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))
    annotations = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField(required=False, allow_null=True)
    generatorURL = serializers.CharField(required=False, allow_blank=True, default="")
    fingerprint = serializers.CharField(required=False, allow_blank=True, default="")


class AlertmanagerPayloadSerializer(serializers.Serializer):
    """Alertmanager's webhook body, version 4."""

    version = serializers.CharField()
    groupKey = serializers.CharField(required=False, allow_blank=True, default="")
    truncatedAlerts = serializers.IntegerField(required=False, default=0)
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    receiver = serializers.CharField(allow_blank=True)
    groupLabels = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    commonLabels = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    commonAnnotations = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    externalURL = serializers.CharField(required=False, allow_blank=True, default="")
    alerts = AlertSerializer(many=True, allow_empty=False)

    def validate_version(self, value):
        if value != "4":
            raise serializers.ValidationError(f"Only version 4 is understood, got {value!r}.")
        return value


class MapSignalSerializer(serializers.Serializer):
    model = VisibleSlugRelatedField(slug_field="name", queryset=MLModel.objects.all())
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    environment = serializers.CharField(max_length=100, required=False, allow_blank=True)


class SignalSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    model_version = serializers.SlugRelatedField(slug_field="version", read_only=True)
    playbook_version = serializers.StringRelatedField()

    class Meta:
        model = Signal
        fields = [
            "id",
            "source",
            "sender",
            "received_at",
            "observed_at",
            "metric",
            "value",
            "labels",
            "annotations",
            "fingerprint",
            "alert_status",
            "starts_at",
            "ends_at",
            "generator_url",
            "model_name",
            "version_name",
            "environment_name",
            "model",
            "model_version",
            "deployment",
            "triage",
            "triage_reason",
            "threshold",
            "threshold_warning",
            "threshold_critical",
            "threshold_comparator",
            "hypothesis",
            "playbook_version",
            "incident",
            "investigation_task",
            "mapped_at",
        ]
        read_only_fields = fields


class InvestigationTaskSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    closed_by = serializers.SerializerMethodField()

    class Meta:
        model = InvestigationTask
        fields = [
            "id",
            "model",
            "title",
            "description",
            "status",
            "created_at",
            "closed_at",
            "closed_by",
            "resolution",
        ]
        read_only_fields = fields

    def get_closed_by(self, obj) -> str | None:
        return _username(obj.closed_by)
