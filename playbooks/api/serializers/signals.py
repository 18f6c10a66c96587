"""Signals as received and triaged, the intake bodies, investigation tasks."""

import math

from django.conf import settings
from rest_framework import serializers, status
from rest_framework.exceptions import APIException

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

    def validate_labels(self, value):
        check_labels(value, "labels")
        return value

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


class PayloadTooLarge(APIException):
    """More than one request may hold (answered 413, naming the field and the setting)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The payload is too large."


def _check_strings(mapping, where: str, limit: int, setting: str) -> None:
    if not isinstance(mapping, dict):
        return  # the serializer names a malformed field
    for name, value in mapping.items():
        for what, text in (("name", name), ("value", value)):
            if isinstance(text, str) and len(text) > limit:
                raise PayloadTooLarge(
                    {
                        f"{where}.{name}"[:200]: [
                            f"The {what} is {len(text)} characters; at most {limit} ({setting})."
                        ]
                    }
                )


def check_labels(labels, where: str) -> None:
    """Every label name and value within GOVREG_SIGNALS_MAX_LABEL_LENGTH characters."""
    _check_strings(
        labels, where, settings.GOVREG_SIGNALS_MAX_LABEL_LENGTH, "GOVREG_SIGNALS_MAX_LABEL_LENGTH"
    )


def check_annotations(annotations, where: str) -> None:
    """Every annotation within GOVREG_SIGNALS_MAX_ANNOTATION_LENGTH characters."""
    _check_strings(
        annotations,
        where,
        settings.GOVREG_SIGNALS_MAX_ANNOTATION_LENGTH,
        "GOVREG_SIGNALS_MAX_ANNOTATION_LENGTH",
    )


def check_alertmanager_limits(body) -> None:
    """What one Alertmanager payload may hold, checked before anything is validated or
    stored: at most GOVREG_SIGNALS_MAX_ALERTS alerts, labels and annotations within
    their lengths. Above them, PayloadTooLarge (413)."""
    if not isinstance(body, dict):
        return
    alerts = body.get("alerts")
    limit = settings.GOVREG_SIGNALS_MAX_ALERTS
    if isinstance(alerts, list) and len(alerts) > limit:
        raise PayloadTooLarge(
            {
                "alerts": [
                    f"{len(alerts)} alerts in one payload; at most {limit} "
                    "(GOVREG_SIGNALS_MAX_ALERTS). Set max_alerts in Alertmanager's "
                    "webhook_config to stay below it."
                ]
            }
        )
    for name in ("groupLabels", "commonLabels"):
        check_labels(body.get(name), name)
    check_annotations(body.get("commonAnnotations"), "commonAnnotations")
    for index, alert in enumerate(alerts if isinstance(alerts, list) else []):
        if isinstance(alert, dict):
            check_labels(alert.get("labels"), f"alerts.{index}.labels")
            check_annotations(alert.get("annotations"), f"alerts.{index}.annotations")


class SignalOutcomeSerializer(serializers.Serializer):
    """How one received signal was triaged (``received`` while triage is still to come)."""

    id = serializers.IntegerField(source="signal.pk")
    triage = serializers.CharField(source="signal.triage")
    incident = serializers.IntegerField(source="signal.incident_id", allow_null=True)
    investigation_task = serializers.IntegerField(
        source="signal.investigation_task_id", allow_null=True
    )
    duplicate = serializers.BooleanField(
        help_text="The same reading was received before; nothing new was stored."
    )


class IntakeReceiptSerializer(serializers.Serializer):
    """The answer to a delivery: how many alerts came, how many were new readings, how
    many wait for triage in the background, and (when triaged in the request) each
    signal's outcome in the order sent; ``signals`` is null when triage is deferred."""

    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    queued = serializers.IntegerField()
    signals = SignalOutcomeSerializer(many=True, allow_null=True)


class MapSignalSerializer(serializers.Serializer):
    model = VisibleSlugRelatedField(slug_field="name", queryset=MLModel.objects.all())
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)
    environment = serializers.CharField(max_length=100, required=False, allow_blank=True)


class SignalSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    model_version = serializers.SlugRelatedField(
        slug_field="version", read_only=True, allow_null=True
    )
    playbook_version = serializers.StringRelatedField(allow_null=True)
    # blank when the sender gave none (a plain JSON signal has no alert status or link)
    alert_status = serializers.ChoiceField(
        choices=[("", "None given"), *AlertStatus.choices], read_only=True
    )
    generator_url = serializers.CharField(read_only=True)

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
