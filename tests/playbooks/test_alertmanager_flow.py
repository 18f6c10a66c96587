"""The whole story of one alert: Alertmanager fires -> critical triage -> incident ->
the deployment gate refuses the model -> the team contains it -> the gate allows
again; then Alertmanager says the alert resolved."""

import pytest

from playbooks.checks import NAME as CHECK_NAME
from playbooks.models import Incident, Signal
from registry.gate import services as gate
from tests.conftest import token_client
from tests.playbooks.conftest import alertmanager_payload, resolved

URL = "/api/signals/alertmanager"


def _our_check(deployment_request) -> dict:
    """Our check's verdict as the gate judges the request now (other checks, such as
    training data lineage, are not part of this story)."""
    judgement = gate.judge(deployment_request)
    return next(c for c in judgement.checks if c["name"] == CHECK_NAME)


@pytest.mark.django_db
def test_firing_then_resolved_alert_blocks_and_releases_the_gate(
    pipeline,
    owner,
    member,
    playbook,
    threshold,
    deployment,
    v1,
    production,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    am = token_client(pipeline)
    payload = alertmanager_payload()

    with django_capture_on_commit_callbacks(execute=True):
        answer = am.post(URL, payload, format="json")

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["received"] == 1
    assert body["signals"][0]["triage"] == "critical"
    signal = Signal.objects.get(pk=body["signals"][0]["id"])
    assert signal.value == pytest.approx(0.31)
    assert signal.threshold == threshold
    assert (signal.threshold_warning, signal.threshold_critical) == (0.1, 0.25)
    assert signal.hypothesis == "PSI above 0.25 means the applicant population moved"
    assert signal.deployment == deployment
    assert signal.model_version == deployment.model_version

    incident = Incident.objects.get(pk=body["signals"][0]["incident"])
    assert incident.status == "open"
    assert incident.severity == "critical"
    assert incident.deployment == deployment
    assert list(incident.risks.all()) == [threshold.risk]
    assert incident.playbook_version.playbook == playbook
    assert incident.escalation_level == 1
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds[:3] == ["status", "step", "signal"]
    assert "escalation" in kinds
    # level 1 (the owning team) was told by mail
    assert {m for mail in mailoutbox for m in mail.to} >= {owner.email, member.email}

    # the gate refuses a new deployment of the model while the incident is open
    request = gate.create_request(model_version=v1, environment=production, user=owner)
    check = _our_check(request)
    assert check["passed"] is False
    assert f"#{incident.pk}" in check["reason"]
    assert request.status != "approved"
    assert any("uncontained critical incident" in r for r in gate.judge(request).reasons)

    # the team acknowledges and contains it through the API
    team = token_client(member)
    assert (
        team.post(f"/api/incidents/{incident.pk}/acknowledge", {}, format="json").status_code == 200
    )
    contained = team.post(
        f"/api/incidents/{incident.pk}/contain", {"note": "traffic moved"}, format="json"
    )
    assert contained.status_code == 200, contained.json()
    assert contained.json()["status"] == "contained"

    assert _our_check(request)["passed"] is True
    # and the stored request, re-judged by the gate, no longer names our check
    assert not any("uncontained critical incident" in r for r in gate.judge(request).reasons)

    # Alertmanager's resolved notification joins the same incident, opens nothing
    answer = am.post(URL, resolved(payload), format="json")
    assert answer.status_code == 200
    assert answer.json()["signals"][0]["triage"] == "resolved"
    assert answer.json()["signals"][0]["incident"] == incident.pk
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_containment_can_request_a_rollback_through_the_gate(
    pipeline, member, playbook, deployment, v1, production
):
    am = token_client(pipeline)
    incident_id = am.post(URL, alertmanager_payload(), format="json").json()["signals"][0][
        "incident"
    ]

    answer = token_client(member).post(
        f"/api/incidents/{incident_id}/contain", {"rollback": True}, format="json"
    )

    assert answer.status_code == 200, answer.json()
    from registry.models import DeploymentRequest

    request = DeploymentRequest.objects.get(kind="rollback")
    assert request.model_version == v1  # the version live before the incident's one
    assert request.environment == production
    assert _our_check(request)["passed"] is True
    entry = [e for e in answer.json()["timeline"] if e["kind"] == "rollback"][0]
    assert entry["data"]["deployment_request"] == request.pk


@pytest.mark.django_db
def test_the_gate_check_passes_for_other_models_and_after_containment(
    pipeline, owner, playbook, deployment, v1, production
):
    token_client(pipeline).post(URL, alertmanager_payload(), format="json")
    incident = Incident.objects.get()
    incident.severity = "high"  # only critical incidents block
    incident.save(update_fields=["severity"])
    request = gate.create_request(model_version=v1, environment=production, user=owner)
    assert _our_check(request)["passed"] is True
