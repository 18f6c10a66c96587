"""The playbooks' part of the demo story: what the team did when signals fired."""

import pytest
from django.utils import timezone

from accounts import demo as accounts_demo
from playbooks.choices import TimelineKind
from playbooks.demo import DRIFT_FINGERPRINT, REVOKED_DATA_INCIDENT
from playbooks.models import Incident, Playbook, Signal
from registry.choices import DeploymentState
from registry.models import Deployment, DeploymentRequest

pytestmark = pytest.mark.django_db


def test_the_drift_alert_ran_its_playbook_and_the_rollback_went_through_the_gate():
    accounts_demo.run_all()
    playbook = Playbook.objects.get(name="drift-response")
    assert len(playbook.escalation_chain) == 2

    firing = Signal.objects.get(fingerprint=DRIFT_FINGERPRINT, alert_status="firing")
    assert firing.triage == "critical" and firing.model_version.version == "2"
    incident = firing.incident
    assert incident.playbook_version.playbook == playbook
    assert incident.status == "resolved"
    assert incident.opened_at < incident.acknowledged_at < incident.contained_at
    assert incident.contained_at < incident.resolved_at
    assert incident.review.status == "completed"
    assert incident.review.action_items.filter(status="done").count() == 2
    resolved = Signal.objects.get(fingerprint=DRIFT_FINGERPRINT, alert_status="resolved")
    assert resolved.incident == incident

    # Containment asked the gate for the previous version; two approvers approved it and
    # the pipeline deployed it: @2 is rolled back, @1 serves.
    entry = incident.timeline.get(kind=TimelineKind.ROLLBACK)
    rollback = DeploymentRequest.objects.get(pk=entry.data["deployment_request"])
    assert str(rollback.model_version) == "loan-default@1"
    assert rollback.deployment.is_rollback and rollback.deployment.state == DeploymentState.LIVE
    assert rollback.deployment.rollback_of.model_version.version == "2"
    assert rollback.deployment.rollback_of.state == DeploymentState.ROLLED_BACK
    assert incident.contained_at < rollback.deployment.deployed_at

    revoked = Incident.objects.get(title=REVOKED_DATA_INCIDENT)
    assert revoked.status == "resolved"
    assert revoked.dataset_versions.get().status == "revoked"
    # marked serious: its reporting clock runs until an approver decides
    assert revoked.serious_category == "serious" and revoked.report_deadline > timezone.now()
    assert revoked.reported_at is None and revoked.not_reportable_at is None
    replacement = Deployment.objects.get(
        model__name="credit-limit", environment__name="production", state=DeploymentState.LIVE
    )
    assert revoked.acknowledged_at < replacement.deployed_at < revoked.contained_at
    assert not Incident.objects.exclude(status__in=("resolved", "closed")).exists()
