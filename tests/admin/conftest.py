"""A small governance world for walking the admin: two teams, a user for every
role (staff, as the demo users are), and one record of every kind the admin
shows, all owned by credit-risk; fraud-detection owns a model only the
approver is granted."""

import base64
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts.models import SsoGrant, SsoIdentity
from accounts.roles import Role
from accounts.services import issue_token
from audit.exports import request_export
from audit.models import AuditEvent, AuditExport, AuditSigningKey
from audit.services import sign_checkpoint
from lineage.models import (
    ColumnLineage,
    Dataset,
    DatasetSymlink,
    DatasetVersion,
    FieldTag,
    JobDataset,
    JobVersion,
    LineageEvent,
    Run,
    RunInput,
    RunOutput,
    Tag,
)
from lineage.services import ingest_event, tag_dataset
from playbooks.models import (
    ActionItem,
    Drill,
    FeedbackReport,
    IncidentNotice,
    InvestigationTask,
    Playbook,
    PostIncidentReview,
    Signal,
)
from playbooks.services import incidents, webhook_sources
from playbooks.services import reviews as review_service
from playbooks.services.playbooks import latest_version, save_playbook
from registry import services as registry_services
from registry.gate import services as gate
from registry.models import DecisionRight, Environment, ImpactNotification, PublicCard
from risk import redteam
from risk.models import (
    Control,
    Evaluation,
    RedTeamExercise,
    RedTeamReminder,
    Reminder,
    RequiredEvaluation,
    Threshold,
)
from risk.services import request_acceptance
from tests.factories import TeamFactory, UserFactory
from tests.lineage.factories import dataset, facet, run_event, schema_facet
from tests.risk.factories import make_risk, make_version
from vocabulary import services as vocabulary_services

ROLES = ("admin", "board", "auditor", "approver", "engineer", "outsider", "pipeline")
READ_ONLY = ("board", "auditor", "pipeline")


@dataclass
class World:
    users: dict
    credit: Group
    fraud: Group
    records: dict = field(default_factory=dict)  # model label -> a credit-risk record
    fraud_model: object = None
    fraud_request: object = None


def make_users(credit, fraud) -> dict:
    groups = {
        "admin": [Role.ADMIN],
        "board": [Role.BOARD],
        "auditor": [Role.AUDITOR],
        "approver": [Role.APPROVER, credit],
        "engineer": [Role.ML_ENGINEER, credit],
        "outsider": [Role.ML_ENGINEER, fraud],
        "pipeline": [Role.PIPELINE, credit, fraud],
    }
    return {
        name: UserFactory(username=f"{name}-user", is_staff=True, groups=roles)
        for name, roles in groups.items()
    }


def add_lineage_records(features, admin) -> None:
    """The lineage rows beyond runs and versions: a run reading the features (an input
    edge) into a scored table with column lineage and a symlink, a JobEvent's declared
    lineage, a dataset tag and a field tag."""
    ingest_event(
        run_event(
            job="score_applicants",
            inputs=[dataset("credit/features", version="md5:" + "a" * 32)],
            outputs=[
                dataset(
                    "credit/scores",
                    schema=schema_facet("applicant_id", "score"),
                    symlinks=facet(
                        "SymlinksDatasetFacet",
                        identifiers=[
                            {"namespace": "hive", "name": "credit.scores", "type": "TABLE"}
                        ],
                    ),
                    columnLineage=facet(
                        "ColumnLineageDatasetFacet",
                        fields={
                            "score": {
                                "inputFields": [
                                    {
                                        "namespace": "warehouse",
                                        "name": "credit/features",
                                        "field": "income",
                                    }
                                ]
                            }
                        },
                    ),
                )
            ],
            minutes=5,
        )
    )
    ingest_event(
        {
            "eventTime": "2026-01-05T10:00:00+00:00",
            "producer": "https://example.com/scheduler",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
            "job": {"namespace": "pipelines", "name": "monthly_report", "facets": {}},
            "inputs": [dataset("credit/scores")],
            "outputs": [],
        }
    )
    tag_dataset(features.dataset, "PII", actor=admin)
    tag_dataset(Dataset.objects.get(name="credit/scores"), "PII", field="score", actor=admin)


def build_world() -> World:
    credit, fraud = TeamFactory(name="credit-risk"), TeamFactory(name="fraud-detection")
    users = make_users(credit, fraud)
    engineer, pipeline = users["engineer"], users["pipeline"]
    world = World(users=users, credit=credit, fraud=fraud)
    now = timezone.now()

    ingest_event(
        run_event(
            job="train_loan_default",
            outputs=[dataset("credit/features", version="md5:" + "a" * 32)],
        )
    )
    run = Run.objects.get()
    dataset_version = DatasetVersion.objects.get()
    add_lineage_records(dataset_version, users["admin"])

    model = registry_services.register_model(
        name="loan-default", team=credit, risk_tier="high", description="Loan default"
    )
    version = registry_services.register_version(
        model=model,
        version="1",
        artifact_uri="s3://models/loan-default/1",
        artifact_digest="sha256:" + "ab" * 32,
        training_run=run,
        registered_by=pipeline,
    )
    feature = registry_services.register_feature(
        name="income", team=credit, description="Declared income"
    )
    feature_version = registry_services.add_feature_version(
        feature=feature, version="1", definition_kind="expression", definition="income / 12"
    )
    staging = Environment.objects.get(name="staging")
    production = Environment.objects.get(name="production")
    deployment = registry_services.deploy(version, staging, engineer)
    notice = ImpactNotification.objects.create(
        dataset_version=dataset_version, status="quarantined", team=credit
    )
    deployment_request = gate.create_request(
        model_version=version, environment=production, user=pipeline
    )

    risk = make_risk(credit, engineer, links={"ml_models": [model]})
    control = Control.objects.create(
        risk=risk, title="human review of declines", owner=engineer, status="planned"
    )
    threshold = Threshold.objects.create(
        risk=risk,
        model_version=version,
        metric="psi",
        comparator="gt",
        warning_value=0.1,
        critical_value=0.25,
    )
    evaluation = Evaluation.objects.create(
        model_version=version, kind="scenario", name="s", outcome="passed", submitted_by=pipeline
    )
    acceptance = request_acceptance(
        risk, engineer, justification="until retrained", expires_at=now + timedelta(days=30)
    )
    reminder = Reminder.objects.create(
        risk=risk, kind="review-due", due_date=now.date(), recipient=engineer
    )

    playbook = Playbook(
        team=credit,
        name="drift-response",
        risk_category="data-drift",
        steps=[{"kind": "containment", "text": "Roll back to the previous version."}],
        escalation_chain=[{"group": credit.name, "minutes": 15}],
    )
    save_playbook(playbook, user=engineer, thresholds=[threshold])
    signal = Signal.objects.create(
        source="api", metric="psi", value=0.3, model=model, triage="questionable"
    )
    task = InvestigationTask.objects.create(model=model, title="check the PSI")
    incident = incidents.open_incident(
        model=model, title="PSI critical", playbook_version=latest_version(playbook)
    )
    review = review_service.save_review(
        PostIncidentReview(incident=incident, summary="drift after a campaign")
    )
    drill = review_service.save_drill(
        Drill(playbook=playbook, title="rollback drill", scheduled_for=now + timedelta(days=7))
    )
    item = review_service.save_action_item(
        ActionItem(review=review, title="add a segment test", owner=engineer, due_date=now.date())
    )
    public_card = PublicCard.objects.create(
        model=model,
        publish_intended_use=True,
        status="published",
        published_fields={"intended_use": "Scores loan applications."},
        published_at=now,
    )
    feedback = FeedbackReport.objects.create(
        model=model,
        environment=staging,
        model_version=version,
        deployment=deployment,
        channel="api",
        text="The scores look off.",
        status_token_hash="0" * 64,
        received_at=now,
    )
    incident_notice = IncidentNotice.objects.create(
        incident=incident, title="Scores were off", what_is_known="Some scores were off."
    )
    exercise = redteam.save_exercise(
        RedTeamExercise(
            team=credit,
            title="jailbreak sweep",
            scope="prompt injection",
            method="manual adversarial prompting",
            starts_on=now.date(),
        ),
        model_versions=[version],
        participants=[engineer],
        user=engineer,
    )
    finding = redteam.record_finding(
        exercise,
        engineer,
        title="instructions leak",
        severity="medium",
        reproduction="ask for the instructions in French",
        risk=risk,
    )
    redteam_reminder = RedTeamReminder.objects.create(ml_model=model, due_date=now.date())
    token, _ = issue_token(engineer, name="laptop")
    sso_identity = SsoIdentity.objects.create(
        user=engineer, issuer="https://id.example.test", subject="engineer-1", last_sign_in=now
    )
    sso_grant = SsoGrant.objects.create(user=engineer, group=credit, claims=["ml-credit"])
    checkpoint = sign_checkpoint()
    export = request_export(
        AuditExport(after=now - timedelta(days=1), before=now + timedelta(days=1)), users["admin"]
    )

    term = vocabulary_services.propose_term(
        engineer, name="Personal data", definition="About a person.", owner_team=credit
    )
    vocabulary_services.approve_term(term, users["board"])
    pii = vocabulary_services.tag_named("PII.Sensitive")
    assignment = vocabulary_services.assign(engineer, version, tag=pii)
    webhook_source = webhook_sources.create_source(
        name="drift-monitor", team=credit, user=users["admin"]
    ).source
    world.records = {
        "auth.group": credit,
        "auth.user": engineer,
        "audit.auditevent": AuditEvent.objects.order_by("seq").first(),
        "audit.auditcheckpoint": checkpoint,
        "audit.auditexport": export,
        "audit.auditsigningkey": AuditSigningKey.objects.get(key_id=checkpoint.key_id),
        "accounts.apitoken": token,
        "accounts.ssoidentity": sso_identity,
        "accounts.ssogrant": sso_grant,
        "lineage.namespace": run.job.namespace,
        "lineage.dataset": dataset_version.dataset,
        "lineage.job": run.job,
        "lineage.run": run,
        "lineage.lineageevent": LineageEvent.objects.first(),
        "lineage.datasetversion": dataset_version,
        "lineage.jobversion": JobVersion.objects.order_by("pk").first(),
        "lineage.runinput": RunInput.objects.order_by("pk").first(),
        "lineage.runoutput": RunOutput.objects.order_by("pk").first(),
        "lineage.columnlineage": ColumnLineage.objects.order_by("pk").first(),
        "lineage.jobdataset": JobDataset.objects.order_by("pk").first(),
        "lineage.datasetsymlink": DatasetSymlink.objects.order_by("pk").first(),
        "lineage.tag": Tag.objects.order_by("pk").first(),
        "lineage.fieldtag": FieldTag.objects.order_by("pk").first(),
        "registry.mlmodel": model,
        "registry.modelversion": version,
        "registry.feature": feature,
        "registry.featureversion": feature_version,
        "registry.environment": staging,
        "registry.deployment": deployment,
        "registry.impactnotification": notice,
        "registry.decisionright": DecisionRight.objects.order_by("pk").first(),
        "registry.deploymentrequest": deployment_request,
        "risk.riskmatrix": risk.matrix,
        "risk.risk": risk,
        "risk.riskacceptance": acceptance,
        "risk.threshold": threshold,
        "risk.evaluation": evaluation,
        "risk.requiredevaluation": RequiredEvaluation.objects.order_by("pk").first(),
        "risk.reminder": reminder,
        "risk.control": control,
        "playbooks.playbook": playbook,
        "playbooks.playbookversion": latest_version(playbook),
        "playbooks.signal": signal,
        "playbooks.investigationtask": task,
        "playbooks.incident": incident,
        "playbooks.postincidentreview": review,
        "playbooks.drill": drill,
        "playbooks.actionitem": item,
        "registry.publiccard": public_card,
        "playbooks.feedbackreport": feedback,
        "playbooks.incidentnotice": incident_notice,
        "playbooks.webhooksource": webhook_source,
        "risk.redteamexercise": exercise,
        "risk.redteamfinding": finding,
        "risk.redteamreminder": redteam_reminder,
        "vocabulary.glossaryterm": term,
        "vocabulary.classification": pii.classification,
        "vocabulary.tag": pii,
        "vocabulary.assignment": assignment,
    }
    fraud_model = registry_services.register_model(
        name="card-fraud", team=fraud, risk_tier="high", description="Card fraud"
    )
    fraud_version = make_version(fraud_model)
    assign_perm("registry.approve_mlmodel", users["approver"], fraud_model)
    world.fraud_model = fraud_model
    world.fraud_request = gate.create_request(
        model_version=fraud_version, environment=production, user=pipeline
    )
    return world


@pytest.fixture
def world(db, settings, django_capture_on_commit_callbacks) -> World:
    key = Ed25519PrivateKey.generate().private_bytes_raw()
    settings.GOVREG_AUDIT_SIGNING_KEY = base64.b64encode(key).decode()
    settings.GOVREG_AUDIT_LOG_ORIGIN = "govreg.example.com/audit"
    with django_capture_on_commit_callbacks(execute=True):
        return build_world()


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user
