"""Demo data: a playbook with a two-level escalation chain and one resolved
incident with its completed post-incident review. Safe to run again."""

from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.demo import register
from audit.context import acting_as
from playbooks.choices import IncidentStatus, StepKind
from playbooks.models import Incident, Playbook, PostIncidentReview
from playbooks.services import incidents, reviews
from playbooks.services.playbooks import latest_version, save_playbook
from registry.choices import DeploymentState
from registry.models import Deployment, MLModel
from registry.services import register_model

DEMO_PLAYBOOK = "drift-response"
DEMO_INCIDENT = "Demo: score drift in production"


@register(order=40)
def seed_playbooks(context: dict) -> None:
    users = context["users"]
    team = Group.objects.get(name="credit-risk")
    engineer = users.get("engineer")
    with acting_as(engineer):
        model = MLModel.objects.filter(team=team).order_by("pk").first()
        if model is None:
            model = register_model(
                name="credit-scoring",
                team=team,
                risk_tier="high",
                description="Scores consumer credit applications.",
            )
        playbook = Playbook.objects.filter(team=team, name=DEMO_PLAYBOOK).first()
        if playbook is None:
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
            save_playbook(playbook, user=engineer)
        if Incident.objects.filter(title__startswith=DEMO_INCIDENT).exists():
            return
        opened = timezone.now() - timedelta(days=3)
        deployment = Deployment.objects.filter(
            model=model, environment__name="production", state=DeploymentState.LIVE
        ).first()
        links = {}
        if deployment is not None:
            links = {"deployment": deployment, "model_version": deployment.model_version}
        incident = incidents.open_incident(
            model=model,
            title=f"{DEMO_INCIDENT}: {model.name}",
            links=links,
            description="PSI of the score distribution rose to 0.31.",
            playbook_version=latest_version(playbook),
            environment_name="production",
            user=engineer,
            now=opened,
        )
        incidents.acknowledge(incident, engineer, now=opened + timedelta(minutes=6))
        for step in (1, 2, 3, 4):
            incidents.complete_step(
                incident, step, engineer, now=opened + timedelta(minutes=10 * step)
            )
        incidents.contain(
            incident, engineer, note="Rolled back.", now=opened + timedelta(minutes=40)
        )
        incidents.resolve(incident, engineer, note="Retrained.", now=opened + timedelta(days=1))
        review = reviews.save_review(
            PostIncidentReview(
                incident=incident,
                summary="Approval rates moved 4 points in a day after a bureau feed change.",
                root_cause="The bureau changed a field's encoding without notice.",
                resolution="Rolled back, then retrained with the new encoding mapped.",
                lessons="Watch upstream schema changes; alert on input drift, not only output.",
            )
        )
        reviews.complete_review(review, engineer)
        assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.RESOLVED
