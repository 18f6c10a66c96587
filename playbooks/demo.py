"""Demo story, the playbooks' chapters: credit-risk's ``drift-response`` playbook
with a two-level escalation chain, the incident it ran and what the team learned,
and the incident the revoked bureau extract opened.

- day 90: engineer writes the playbook.
- day 40: Alertmanager reports PredictionDriftHigh (PSI 0.31) on loan-default@2 in
  production; triage finds it past @2's critical threshold and opens an incident
  with the playbook. engineer acknowledges within minutes and contains it with a
  rollback: the gate's request for @1 is approved by approver and approver2 and
  the pipeline deploys it; the alert resolves.
- day 39: resolved (the bureau had changed its scoring bands in its second extract).
- day 37: the post-incident review is completed; its action items tighten @1's
  PSI threshold and re-rate the drift risk (above appetite: the risk register
  then asks for, and gets, an acceptance).
- day 11: the bureau's consent withdrawal leaves credit-limit@1 serving on revoked
  data: engineer opens an incident and marks it serious (its reporting clock runs
  until an approver decides whether to report it); day 10 credit-limit@2 replaces
  @1 through the gate, and the incident is contained and resolved.
- day 9.5: loan-default@1 declines every applicant of three Member States (a postcode
  table maps them to "unknown"): engineer opens an incident, marks it serious as a
  widespread infringement (report due within 2 days), contains and resolves it within
  hours; nobody records the report, so it is overdue (the board finds it on its board).
- day 3: a new alert rule misspells its model ("creditlimit"): the signal waits,
  unlinked, for an admin to map it.
- day 2: support-triage's long-ticket refusal-rate monitor promises a reading every
  hour and sends one; day 1.9 it has gone silent: the heartbeat raises one
  questionable monitor-silent signal and customer-support's investigation task.
"""

from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.demo import as_user, chapter, later
from lineage.models import DatasetVersion
from playbooks.choices import IncidentStatus, Severity, SignalSource, StepKind
from playbooks.models import ActionItem, Incident, Playbook, PostIncidentReview, Signal
from playbooks.services import incidents, reviews, triage
from playbooks.services.playbooks import save_playbook
from playbooks.tasks import detect_silent_monitors
from registry.choices import DeploymentState
from registry.gate import demo as gate_demo
from registry.models import Deployment, DeploymentRequest, MLModel, ModelVersion
from risk.models import Risk, Threshold

DEMO_PLAYBOOK = "drift-response"
DRIFT_FINGERPRINT = "5c1e0d9b7f3a2e64"  # Alertmanager's fingerprint of the drift alert
DRIFT_LABELS = {
    "alertname": "PredictionDriftHigh",
    "model": "loan-default",
    "environment": "production",
    "metric": "score_psi",
    "severity": "critical",
}
REVOKED_DATA_INCIDENT = "credit-limit@1 serves on a revoked bureau extract"
OVERDUE_REPORT_INCIDENT = "loan-default@1 declines every applicant of three Member States"
MISROUTED_FINGERPRINT = "9a4f2c7e1b0d3856"  # an alert whose rule misspells its model


def drift_incident() -> Incident | None:
    signal = (
        Signal.objects.filter(fingerprint=DRIFT_FINGERPRINT, alert_status="firing")
        .select_related("incident")
        .first()
    )
    return signal.incident if signal else None


def alert(context, status: str, starts_at, ends_at=None) -> Signal:
    """Alertmanager's webhook delivers the drift alert (as the pipeline account)."""
    labels = dict(DRIFT_LABELS)
    annotations = {
        "value": "0.31",
        "summary": "PSI of loan-default's score distribution at 0.31 over the last 24 hours.",
    }
    with as_user(context, "pipeline"):
        signal, _ = triage.ingest(
            triage.SignalInput(
                source=SignalSource.ALERTMANAGER,
                sender="govreg",
                metric=labels["metric"],
                value=0.31,
                labels=labels,
                annotations=annotations,
                fingerprint=DRIFT_FINGERPRINT,
                alert_status=status,
                starts_at=starts_at,
                ends_at=ends_at,
                generator_url="http://prometheus:9090/graph?g0.expr=score_psi",
                group_key='{}:{alertname="PredictionDriftHigh"}',
                receiver="govreg",
                model_name=labels["model"],
                environment_name=labels["environment"],
            ),
            context["users"]["pipeline"],
        )
    return signal


@chapter(days_ago=90)
def drift_response_playbook(context):
    """engineer writes credit-risk's drift-response playbook"""
    team = Group.objects.get(name="credit-risk")
    if Playbook.objects.filter(team=team, name=DEMO_PLAYBOOK).exists():
        return
    playbook = Playbook(
        team=team,
        name=DEMO_PLAYBOOK,
        description="Prediction drift past its threshold on a live model.",
        risk_category="data-drift",
        label_matchers={"alertname": "PredictionDriftHigh"},
        unthresholded_is_critical=True,
        steps=[
            {"kind": StepKind.CONTAINMENT, "text": "Roll back to the previous version."},
            {"kind": StepKind.INVESTIGATION, "text": "Compare input distributions."},
            {"kind": StepKind.REMEDIATION, "text": "Retrain on recent data."},
            {"kind": StepKind.COMMUNICATION, "text": "Tell credit operations."},
        ],
        decision_tree=[
            {
                "id": "segments",
                "question": "Is the drift in every customer segment?",
                "answers": [
                    {"answer": "yes", "step": 1},
                    {"answer": "no", "next": "upstream"},
                ],
            },
            {
                "id": "upstream",
                "question": "Did an upstream dataset change?",
                "answers": [{"answer": "yes", "step": 2}, {"answer": "no", "step": 3}],
            },
        ],
        escalation_chain=[
            {"group": "credit-risk", "minutes": 15},
            {"group": "board", "minutes": 30},
        ],
    )
    with as_user(context, "engineer"):
        save_playbook(playbook, user=context["users"]["engineer"])


@chapter(days_ago=40)
def drift_alert(context):
    """a drift alert on loan-default@2 opens an incident; engineer contains it by rolling
    back to @1 through the gate"""
    if drift_incident() is not None:
        return
    engineer = context["users"]["engineer"]
    starts_at = timezone.now() - timedelta(minutes=2)
    signal = alert(context, "firing", starts_at)
    if signal.incident_id is None:
        raise RuntimeError(
            f"demo story: the drift alert opened no incident: {signal.triage_reason}"
        )
    incident = signal.incident
    later(context, minutes=6)
    with as_user(context, "engineer"):
        incidents.acknowledge(incident, engineer, note="On it.")
    later(context, minutes=4)
    with as_user(context, "engineer"):
        incidents.contain(incident, engineer, note="Rolling back to loan-default@1.", rollback=True)
    rollback = (
        DeploymentRequest.objects.filter(
            model_version=ModelVersion.objects.get(model__name="loan-default", version="1"),
            environment__name="production",
        )
        .order_by("-pk")
        .first()
    )
    rollback = gate_demo.approve(
        context,
        rollback,
        ("approver", "approver2"),
        "Rollback to @1, which served until day 97; its evaluations still hold.",
    )
    gate_demo.deployed(context, rollback)
    later(context, minutes=5)
    with as_user(context, "engineer"):
        incidents.complete_step(incident, 1, engineer, note="@1 live in production again.")
    later(context, hours=2)
    alert(context, "resolved", starts_at, ends_at=timezone.now())


@chapter(days_ago=39)
def drift_resolved(context):
    """engineer finds the cause (the bureau's new scoring bands) and resolves the incident"""
    incident = drift_incident()
    if incident is None or incident.status != IncidentStatus.CONTAINED:
        return
    engineer = context["users"]["engineer"]
    with as_user(context, "engineer"):
        for step, note in (
            (2, "Bureau score bands shifted in the second extract; other inputs stable."),
            (3, "The feature job maps the new bands; retraining on the third extract."),
            (4, "Credit operations told: @1 serves until @3 ships."),
        ):
            incidents.complete_step(incident, step, engineer, note=note)
            later(context, minutes=30)
        incidents.resolve(
            incident,
            engineer,
            note="@1 serves; the new bureau bands are mapped before the next training.",
        )


@chapter(days_ago=37)
def drift_review(context):
    """the post-incident review is completed; its action items tighten @1's PSI threshold
    and re-rate the drift risk"""
    incident = drift_incident()
    if incident is None or PostIncidentReview.objects.filter(incident=incident).exists():
        return
    engineer = context["users"]["engineer"]
    drift = Risk.objects.get(title="Score drift when the bureau data changes")
    psi = Threshold.objects.get(
        model_version__model__name="loan-default", model_version__version="1", metric="score_psi"
    )
    with as_user(context, "engineer"):
        review = reviews.save_review(
            PostIncidentReview(
                incident=incident,
                summary="Approval rates moved 4 points in a day after the bureau's second "
                "extract; PSI reached 0.31 and @1 was rolled back within 40 minutes.",
                root_cause="The bureau changed its scoring bands without notice.",
                resolution="Rolled back to @1; the feature job now maps the new bands.",
                lessons="Watch upstream schema and band changes; alert on input drift, "
                "not only on the score.",
            )
        )
        items = [
            reviews.save_action_item(
                ActionItem(
                    review=review,
                    title="Tighten @1's PSI threshold",
                    owner=engineer,
                    due_date=timezone.localdate() + timedelta(days=7),
                    threshold=psi,
                    new_warning_value=0.08,
                    new_critical_value=0.2,
                )
            ),
            reviews.save_action_item(
                ActionItem(
                    review=review,
                    title="Re-rate the drift risk: bureau changes are likelier than we thought",
                    owner=engineer,
                    due_date=timezone.localdate() + timedelta(days=7),
                    risk=drift,
                    new_residual_likelihood=3,
                )
            ),
        ]
        reviews.complete_review(review, engineer)
        for item in items:
            later(context, hours=1)
            reviews.complete_action_item(item, engineer, note="Applied.")


@chapter(days_ago=3)
def misrouted_alert(context):
    """a new alert rule names its model "creditlimit": the signal is kept unlinked for an
    admin to map"""
    if Signal.objects.filter(fingerprint=MISROUTED_FINGERPRINT).exists():
        return
    labels = {
        "alertname": "InputNullRateHigh",
        "model": "creditlimit",
        "environment": "production",
        "metric": "income_null_rate",
        "severity": "warning",
    }
    with as_user(context, "pipeline"):
        triage.ingest(
            triage.SignalInput(
                source=SignalSource.ALERTMANAGER,
                sender="govreg",
                metric=labels["metric"],
                value=0.04,
                labels=labels,
                annotations={"value": "0.04", "summary": "4% of applications lack income."},
                fingerprint=MISROUTED_FINGERPRINT,
                alert_status="firing",
                starts_at=timezone.now() - timedelta(minutes=1),
                receiver="govreg",
                model_name=labels["model"],
                environment_name=labels["environment"],
            ),
            context["users"]["pipeline"],
        )


@chapter(days_ago=11)
def revoked_data_incident(context):
    """engineer opens an incident: credit-limit@1 serves on the revoked extract"""
    if Incident.objects.filter(title=REVOKED_DATA_INCIDENT).exists():
        return
    engineer = context["users"]["engineer"]
    model = MLModel.objects.get(name="credit-limit")
    live = Deployment.objects.get(
        model=model, environment__name="production", state=DeploymentState.LIVE
    )
    revoked = DatasetVersion.objects.filter(status="revoked")
    with as_user(context, "engineer"):
        incident = incidents.open_incident(
            model=model,
            title=REVOKED_DATA_INCIDENT,
            severity=Severity.HIGH,
            description="govreg's impact notice: the bureau's second extract is revoked and "
            "credit-limit@1, trained on it, is live in production.",
            environment_name="production",
            links={
                "deployment": live,
                "model_version": live.model_version,
                "dataset_versions": list(revoked),
            },
            user=engineer,
        )
        later(context, minutes=20)
        incidents.acknowledge(incident, engineer)
        # Scoring applicants with data whose consent was withdrawn may infringe their
        # rights: the reporting clock starts until an approver decides (Art. 73).
        incidents.mark_serious(incident, engineer, category="serious", aware_at=timezone.now())
        incidents.add_comment(
            incident,
            engineer,
            "credit-limit@2 was trained on the third extract only: asking for it in production.",
        )


@chapter(days_ago=9.9)
def revoked_data_incident_resolved(context):
    """credit-limit@2 serves: the incident is contained and resolved"""
    incident = Incident.objects.filter(title=REVOKED_DATA_INCIDENT).first()
    if incident is None or incident.status != IncidentStatus.ACKNOWLEDGED:
        return
    engineer = context["users"]["engineer"]
    with as_user(context, "engineer"):
        incidents.contain(incident, engineer, note="credit-limit@2 replaced @1 in production.")
        later(context, hours=2)
        incidents.resolve(
            incident,
            engineer,
            note="@1 is retired; the limits it set since the withdrawal are re-scored by @2.",
        )


@chapter(days_ago=9.5)
def overdue_report_incident(context):
    """loan-default@1 declines the applicants of three Member States: a widespread
    infringement, resolved within hours, whose report to the authority nobody records"""
    if Incident.objects.filter(title=OVERDUE_REPORT_INCIDENT).exists():
        return
    engineer = context["users"]["engineer"]
    model = MLModel.objects.get(name="loan-default")
    live = Deployment.objects.get(
        model=model, environment__name="production", state=DeploymentState.LIVE
    )
    with as_user(context, "engineer"):
        incident = incidents.open_incident(
            model=model,
            title=OVERDUE_REPORT_INCIDENT,
            severity=Severity.HIGH,
            description="A postcode table update mapped applicants from PT, ES and EL to "
            "'unknown'; loan-default@1 declined all of them for six hours.",
            environment_name="production",
            links={"deployment": live, "model_version": live.model_version},
            user=engineer,
        )
        later(context, minutes=15)
        incidents.acknowledge(incident, engineer, note="Postcode table suspected.")
        incidents.mark_serious(incident, engineer, category="widespread", aware_at=timezone.now())
        later(context, minutes=40)
        incidents.contain(
            incident, engineer, note="Previous postcode table restored; declines re-scored."
        )
        later(context, hours=3)
        incidents.resolve(
            incident, engineer, note="The table's loader now refuses unmapped postcodes."
        )


SILENT_METRIC = "long_ticket_refusal_rate"


@chapter(days_ago=2)
def refusal_monitor_heartbeat(context):
    """customer-support's monitor of support-triage's long-ticket refusal rate promises a
    reading every hour (15 minutes' grace); its reading arrives"""
    threshold = Threshold.objects.get(model_version__model__name="support-triage",
                                      metric=SILENT_METRIC)  # fmt: skip
    if threshold.expected_every is not None:
        return
    with as_user(context, "approver3"):
        threshold.expected_every = timedelta(hours=1)
        threshold.grace = timedelta(minutes=15)
        threshold.full_clean()
        threshold.save()
    with as_user(context, "pipeline"):
        triage.ingest(
            triage.SignalInput(
                source=SignalSource.API,
                sender="evidently-hourly",
                metric=SILENT_METRIC,
                value=0.03,
                observed_at=timezone.now(),
                model_name="support-triage",
                environment_name="production",
            ),
            context["users"]["pipeline"],
        )


@chapter(days_ago=1.9)
def refusal_monitor_silent(context):
    """the refusal-rate monitor stops reporting: the heartbeat raises one monitor-silent
    signal, questionable, and customer-support gets an investigation task"""
    detect_silent_monitors()
