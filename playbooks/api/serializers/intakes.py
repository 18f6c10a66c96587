"""The bodies of the intakes beyond Alertmanager: Grafana alerting's webhook contact
point and the signed generic webhook."""

import math

from rest_framework import serializers

from playbooks.api.serializers.signals import AlertSerializer, check_labels
from playbooks.choices import AlertStatus


class GrafanaAlertSerializer(AlertSerializer):
    """One alert as Grafana sends it: Alertmanager's fields and Grafana's links and
    the values of the rule's queries and expressions (by ref id)."""

    silenceURL = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    dashboardURL = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    panelURL = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    imageURL = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    values = serializers.DictField(
        child=serializers.FloatField(allow_null=True), required=False, allow_null=True
    )
    valueString = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class GrafanaPayloadSerializer(serializers.Serializer):
    """Grafana alerting's webhook body (contact point "webhook"): Alertmanager's
    payload with ``version`` "1" and Grafana's ``orgId``, ``state``, ``title`` and
    ``message``. Fields Grafana adds later are accepted and ignored."""

    version = serializers.CharField(required=False, allow_blank=True, default="1")
    groupKey = serializers.CharField(required=False, allow_blank=True, default="")
    truncatedAlerts = serializers.IntegerField(required=False, default=0)
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    receiver = serializers.CharField(allow_blank=True, required=False, default="")
    orgId = serializers.IntegerField(required=False, allow_null=True)
    state = serializers.CharField(required=False, allow_blank=True, default="")
    title = serializers.CharField(required=False, allow_blank=True, default="")
    message = serializers.CharField(required=False, allow_blank=True, default="")
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
    alerts = GrafanaAlertSerializer(many=True, allow_empty=False)


class SignedSignalSerializer(serializers.Serializer):
    """``POST /api/signals/webhook/{source}``: one reading from any monitoring product
    (a drift or quality monitor), signed with the source's secret."""

    model = serializers.CharField(max_length=100)
    metric = serializers.CharField(max_length=200)
    value = serializers.FloatField()
    time = serializers.DateTimeField(help_text="When the reading was taken (ISO 8601).")
    labels = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    environment = serializers.CharField(max_length=100, required=False, allow_blank=True)
    version = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def validate_value(self, value):
        if not math.isfinite(value):
            raise serializers.ValidationError("Give a finite number.")
        return value

    def validate_labels(self, value):
        check_labels(value, "labels")
        return value
