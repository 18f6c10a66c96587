"""Demo story, registry chapters: three teams' models with real lineage.

Lineage is made the way pipelines make it, through OpenLineage START and
COMPLETE events given to ``lineage.services.ingest_event``; run ids are fixed,
and a run that lineage already knows is not sent again. Versions are
registered by the ``pipeline`` service account, staging deployments are its
own, production only through the gate (``registry.gate.demo.release``). The
story (days before the seeding):

- credit-risk retrains ``loan-default`` from application and bureau data
  through a feature job: @1 (day 150, production day 145), @2 (day 100,
  production day 97), @3 (day 30, staging; its production request waits).
  ``credit-limit`` shares those features: @1 (production day 96), @2 (day 30).
- day 40: a drift alert on loan-default@2 opens an incident; the rollback it
  asks for puts @1 back in production (see ``playbooks.demo``).
- day 12: the bureau withdraws consent for its second extract, which trained
  loan-default@2 and credit-limit@1: it is revoked, the team is told, and both
  versions are retired; loan-default no longer served @2, and credit-limit@2
  (trained on the third extract) replaces @1 in production through the gate
  on day 10, under an incident.
- fraud-detection runs ``card-fraud`` (@1 production day 117, @2 day 57) and
  ``account-takeover`` (staging; its card is incomplete and one input has no
  content hash, so the gate refuses it).
- customer-support runs ``support-triage``, a ticket router (@1 production
  day 68, @2 trained day 5).
"""

import hashlib
import uuid
from datetime import timedelta

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.demo import StoryConflict, as_user, chapter
from lineage.models import DatasetVersion, Run
from lineage.services import change_dataset_version, ingest_event
from registry import services
from registry.choices import DeploymentState, ModelVersionStatus
from registry.gate.demo import release
from registry.models import Deployment, Environment, Feature, FeatureVersion, MLModel, ModelVersion

LAKE = "s3://govreg-demo-lake"
MODELS = "s3://govreg-demo-models"
SCHEDULER = "airflow://govreg-demo"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/airflow"
RUN_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
VERSION_FACET_SCHEMA = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)
BUREAU = "credit/raw/bureau_scores"
REVOKED_EXTRACT = "bureau-extract-2"  # the label whose md5 is the revoked version's identity


def md5(label: str) -> str:
    """A stand-in DVC content hash for a demo file."""
    return "md5:" + hashlib.md5(label.encode()).hexdigest()  # noqa: S324 - content id, not security


def dataset(name: str, label: str | None = None, namespace: str = LAKE) -> dict:
    """An OpenLineage dataset; ``label`` gives it a content hash (the DVC md5 of that label)."""
    spec = {"namespace": namespace, "name": name, "facets": {}}
    if label is not None:
        spec["facets"]["version"] = {
            "_producer": PRODUCER,
            "_schemaURL": VERSION_FACET_SCHEMA,
            "datasetVersion": md5(label),
        }
    return spec


def dataset_version(name: str, label: str) -> DatasetVersion:
    return DatasetVersion.objects.get(
        dataset__namespace__name=LAKE, dataset__name=name, version=md5(label)
    )


def run(job: str, key: str, hours_ago: float, inputs=(), outputs=()) -> Run:
    """One run of ``job`` as the scheduler reports it: START ``hours_ago`` hours before
    the chapter's moment, COMPLETE with its outputs 20 minutes later. Sent once."""
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"govreg-demo/{job}/{key}"))
    known = Run.objects.filter(run_id=run_id).first()
    if known is not None:
        return known
    start = timezone.now() - timedelta(hours=hours_ago)
    for event_type, moment, outs in (
        ("START", start, []),
        ("COMPLETE", start + timedelta(minutes=20), list(outputs)),
    ):
        ingest_event(
            {
                "eventType": event_type,
                "eventTime": moment.isoformat(),
                "producer": PRODUCER,
                "schemaURL": RUN_SCHEMA,
                "run": {"runId": run_id, "facets": {}},
                "job": {"namespace": SCHEDULER, "name": job, "facets": {}},
                "inputs": list(inputs),
                "outputs": outs,
            }
        )
    return Run.objects.get(run_id=run_id)


def model(name: str, team: str, tier: str, description: str, **card) -> MLModel:
    existing = MLModel.objects.filter(name=name).first()
    if existing is not None:
        return existing
    return services.register_model(
        name=name,
        team=Group.objects.get(name=team),
        risk_tier=tier,
        description=description,
        **card,
    )


def version(model_name: str, label: str) -> ModelVersion:
    return ModelVersion.objects.select_related("model").get(model__name=model_name, version=label)


def register(context, ml_model: MLModel, label: str, training_run: Run) -> ModelVersion:
    """The training pipeline registers the artifact it produced, naming its lineage run."""
    existing = ml_model.versions.filter(version=label).first()
    if existing is not None:
        if existing.training_run_id != training_run.pk:
            raise StoryConflict(
                f"{existing} exists and was trained by another run than the demo's: this "
                "database holds other data (an earlier demo?). Seed an empty one (make clean)."
            )
        return existing
    digest = hashlib.sha256(f"{ml_model.name}/{label}".encode()).hexdigest()
    with as_user(context, "pipeline"):
        return services.register_version(
            model=ml_model,
            version=label,
            artifact_uri=f"{MODELS}/{ml_model.name}/{label}/model.tar.gz",
            artifact_digest=f"sha256:{digest}",
            code_repository=f"https://git.example.com/{ml_model.team.name}/{ml_model.name}",
            code_commit=digest[:12],
            training_run=training_run,
            registered_by=context["users"]["pipeline"],
        )


LIFE_CYCLE = list(ModelVersionStatus.values)  # registered, validated, deprecated, retired


def set_status(context, target: ModelVersion, status: str, reason: str, by="engineer"):
    """Move a version on in its life cycle (never back: told again, nothing changes)."""
    target.refresh_from_db()
    if LIFE_CYCLE.index(target.status) >= LIFE_CYCLE.index(status):
        return target
    with as_user(context, by):
        return services.change_version_status(target, status, reason=reason)


def to_staging(context, target: ModelVersion) -> Deployment:
    """The pipeline deploys to staging itself (unprotected: no request needed)."""
    staging = Environment.objects.get(name="staging")
    done = Deployment.objects.filter(model_version=target, environment=staging).first()
    if done is not None:
        return done
    with as_user(context, "pipeline"):
        return services.deploy(
            target, staging, context["users"]["pipeline"], note="deployed by the CI pipeline"
        )


def feature(context, name, team, description, label, definition, sources) -> None:
    with as_user(context, "engineer"):
        found = Feature.objects.filter(name=name).first() or services.register_feature(
            name=name, team=Group.objects.get(name=team), description=description
        )
        if not FeatureVersion.objects.filter(feature=found, version=label).exists():
            services.add_feature_version(
                feature=found,
                version=label,
                definition_kind="expression",
                definition=definition,
                source_dataset_versions=sources,
            )


# --- credit-risk --------------------------------------------------------------

LOAN_CARD = {
    "intended_use": "Estimate the 12-month probability of default of consumer loan "
    "applications to support underwriting decisions.",
    "out_of_scope_uses": "Employment, housing or insurance decisions; business loans.",
    "known_limitations": "Applicants with thin credit files are scored conservatively; "
    "performance drops for loan amounts above 50k.",
    "capabilities": "Calibrated probability of default; reason codes for adverse actions.",
    "ethical_considerations": "Protected attributes are excluded and proxies are tested "
    "quarterly for disparate impact.",
    "human_oversight": "Every decline above 0.8 is reviewed by an underwriter.",
    "contact": "credit-risk-models@example.com",
}


# What the dossier (Annex IV points 1, 7, 8, 9) and a serious-incident report name.
LOAN_REGULATORY = {
    "provider": "Example Consumer Credit B.V., Herengracht 1, Amsterdam",
    "standards_applied": "ISO/IEC 42001:2023 AI management system\n"
    "ISO/IEC 23894:2023 AI risk management\n"
    "ISO/IEC TR 24027:2021 bias in AI systems (disparate-impact tests)",
    "conformity_declaration_ref": "DoC-2026-017 (credit-risk/loan-default, signed by the CRO)",
    "eu_database_id": "EUDB-HR-2026-004711",
    "post_market_monitoring_plan": "Score drift (PSI against the training sample) and "
    "default-rate calibration are watched daily in production with thresholds per version; "
    "a critical signal opens an incident with the drift playbook. Disparate impact on "
    "thin-file applicants is reported monthly to the board; underwriters' overrides are "
    "sampled quarterly. Serious incidents are reported under Art. 73.",
}


def credit_batch(context, n: int, *, credit_limit: str | None) -> None:
    """Extract ``n`` of the application and bureau data: features, then the trainings."""
    run(
        "credit.build_applicant_features",
        f"extract-{n}",
        30,
        [
            dataset("credit/raw/applications", f"applications-extract-{n}"),
            dataset(BUREAU, f"bureau-extract-{n}"),
        ],
        [dataset("credit/features/applicant", f"applicant-features-{n}")],
    )
    trained = run(
        "credit.train_loan_default",
        f"extract-{n}",
        6,
        [
            dataset("credit/features/applicant", f"applicant-features-{n}"),
            dataset("credit/labels/defaults", f"defaults-extract-{n}"),
        ],
        [dataset("loan-default/model.tar.gz", f"loan-default-{n}", MODELS)],
    )
    loan = model(
        "loan-default",
        "credit-risk",
        "high",
        "Probability of default for consumer loan applications.",
        **LOAN_CARD,
        **LOAN_REGULATORY,
    )
    register(context, loan, str(n), trained)
    if credit_limit is None:
        return
    limits = run(
        "credit.train_credit_limit",
        f"extract-{n}",
        5,
        [
            dataset("credit/features/applicant", f"applicant-features-{n}"),
            dataset("credit/policy/limit_bands", "limit-bands-v4"),
        ],
        [dataset("credit-limit/model.tar.gz", f"credit-limit-{n}", MODELS)],
    )
    limit = model(
        "credit-limit",
        "credit-risk",
        "limited",
        "Recommends a credit-card limit band for approved applicants.",
        **{
            **LOAN_CARD,
            "intended_use": "Recommend an initial limit band for approved card applicants.",
            "capabilities": "One of six limit bands with a confidence score.",
        },
    )
    register(context, limit, credit_limit, limits)


@chapter(days_ago=150)
def credit_extract_1(context):
    """credit-risk trains loan-default@1 on the bureau's first extract; the pipeline registers it"""
    credit_batch(context, 1, credit_limit=None)


@chapter(days_ago=147)
def loan_default_1_staging(context):
    """loan-default@1 is validated and goes to staging"""
    target = version("loan-default", "1")
    set_status(context, target, ModelVersionStatus.VALIDATED, "evaluations passed")
    to_staging(context, target)


@chapter(days_ago=145)
def loan_default_1_production(context):
    """loan-default@1 goes to production: two approvers approve the pipeline's request"""
    release(context, version("loan-default", "1"), approvers=("approver", "approver2"))


@chapter(days_ago=100)
def credit_extract_2(context):
    """the second extract (the bureau changed its scoring bands) trains loan-default@2
    and credit-limit@1"""
    credit_batch(context, 2, credit_limit="1")
    feature(
        context,
        "applicant-debt-ratio",
        "credit-risk",
        "Monthly debt service over declared income.",
        "1",
        "sum(monthly_debt_payments) / nullif(declared_monthly_income, 0)",
        [
            dataset_version("credit/raw/applications", "applications-extract-2"),
            dataset_version(BUREAU, "bureau-extract-2"),
        ],
    )


@chapter(days_ago=98)
def credit_extract_2_staging(context):
    """loan-default@2 and credit-limit@1 are validated and go to staging"""
    for target in (version("loan-default", "2"), version("credit-limit", "1")):
        set_status(context, target, ModelVersionStatus.VALIDATED, "evaluations passed")
        to_staging(context, target)


@chapter(days_ago=97)
def loan_default_2_production(context):
    """loan-default@2 replaces @1 in production, approved by approver and approver2"""
    release(context, version("loan-default", "2"), approvers=("approver", "approver2"))


@chapter(days_ago=96)
def credit_limit_1_production(context):
    """credit-limit@1 goes to production (limited tier: one approver)"""
    release(context, version("credit-limit", "1"), approvers=("approver",))


@chapter(days_ago=30)
def credit_extract_3(context):
    """the third extract, with the new scoring bands mapped, trains loan-default@3 and
    credit-limit@2"""
    credit_batch(context, 3, credit_limit="2")


@chapter(days_ago=28)
def credit_extract_3_staging(context):
    """loan-default@3 and credit-limit@2 go to staging; @3 still waits for its human review"""
    set_status(
        context, version("credit-limit", "2"), ModelVersionStatus.VALIDATED, "evaluations passed"
    )
    for target in (version("loan-default", "3"), version("credit-limit", "2")):
        to_staging(context, target)


@chapter(days_ago=12)
def bureau_consent_withdrawn(context):
    """the bureau withdraws consent for its second extract: engineer revokes it, the team
    is told, and the versions trained on it are retired where they no longer serve"""
    revoked = dataset_version(BUREAU, REVOKED_EXTRACT)
    if revoked.status != "revoked":
        engineer = context["users"]["engineer"]
        with as_user(context, "engineer"):
            change_dataset_version(
                revoked,
                actor=engineer,
                status="revoked",
                consent_notes=f"The bureau withdrew consent for this extract on "
                f"{timezone.now():%Y-%m-%d} (ticket DPO-118).",
            )
    loan2 = version("loan-default", "2")
    if not loan2.deployments.filter(state=DeploymentState.LIVE).exists():
        set_status(
            context, loan2, ModelVersionStatus.RETIRED, "trained on a revoked bureau extract"
        )


@chapter(days_ago=11)
def applicant_debt_ratio_2(context):
    """applicant-debt-ratio gets a version computed without the revoked extract"""
    feature(
        context,
        "applicant-debt-ratio",
        "credit-risk",
        "Monthly debt service over declared income.",
        "2",
        "sum(monthly_debt_payments) / nullif(declared_monthly_income, 0)",
        [
            dataset_version("credit/raw/applications", "applications-extract-3"),
            dataset_version(BUREAU, "bureau-extract-3"),
        ],
    )


@chapter(days_ago=10)
def credit_limit_2_production(context):
    """credit-limit@2, trained on the third extract, replaces @1 in production"""
    release(
        context,
        version("credit-limit", "2"),
        approvers=("approver",),
        comment="Trained on the third extract only; replaces @1, which used revoked data.",
    )


@chapter(days_ago=9)
def credit_limit_1_retired(context):
    """credit-limit@1, trained on the revoked extract, is retired"""
    set_status(
        context,
        version("credit-limit", "1"),
        ModelVersionStatus.RETIRED,
        "trained on a revoked bureau extract",
    )


# --- fraud-detection ----------------------------------------------------------


def fraud_batch(context, n: int) -> None:
    run(
        "fraud.build_signals",
        f"batch-{n}",
        30,
        [dataset("payments/raw/card_transactions", f"card-transactions-{n}")],
        [dataset("fraud/features/signals", f"signals-{n}")],
    )
    trained = run(
        "fraud.train_card_fraud",
        f"batch-{n}",
        6,
        [
            dataset("fraud/features/signals", f"signals-{n}"),
            dataset("fraud/labels/chargebacks", f"chargebacks-{n}"),
        ],
        [dataset("card-fraud/model.tar.gz", f"card-fraud-{n}", MODELS)],
    )
    card_fraud = model(
        "card-fraud",
        "fraud-detection",
        "high",
        "Scores card-present and card-not-present payments for fraud in real time.",
        intended_use="Hold or challenge payments whose fraud score passes the threshold.",
        out_of_scope_uses="Closing accounts or reporting customers without human review.",
        known_limitations="New merchants have little history; first-week scores are noisy.",
        capabilities="Fraud probability within 40 ms at the 99th percentile.",
        ethical_considerations="False positives fall unevenly on travellers; monitored weekly.",
        human_oversight="Analysts review every hold above 5,000 within one hour.",
        contact="fraud-models@example.com",
    )
    register(context, card_fraud, str(n), trained)


@chapter(days_ago=121)
def card_fraud_batch_1(context):
    """fraud-detection trains card-fraud@1 on its first transaction batch"""
    fraud_batch(context, 1)


@chapter(days_ago=118)
def card_fraud_1_staging(context):
    """card-fraud@1 is validated and goes to staging"""
    target = version("card-fraud", "1")
    set_status(context, target, ModelVersionStatus.VALIDATED, "evaluations passed")
    to_staging(context, target)


@chapter(days_ago=117)
def card_fraud_1_production(context):
    """card-fraud@1 goes to production, approved by approver2 and approver3"""
    release(context, version("card-fraud", "1"), approvers=("approver2", "approver3"))


@chapter(days_ago=62)
def card_fraud_batch_2(context):
    """card-fraud@2 is trained on the second transaction batch"""
    fraud_batch(context, 2)


@chapter(days_ago=58)
def card_fraud_2_staging(context):
    """card-fraud@2 is validated and goes to staging"""
    target = version("card-fraud", "2")
    set_status(context, target, ModelVersionStatus.VALIDATED, "evaluations passed")
    to_staging(context, target)


@chapter(days_ago=57)
def card_fraud_2_production(context):
    """card-fraud@2 replaces @1 in production; @1 is deprecated"""
    release(context, version("card-fraud", "2"), approvers=("approver2", "approver3"))
    set_status(context, version("card-fraud", "1"), ModelVersionStatus.DEPRECATED, "replaced by @2")


@chapter(days_ago=45)
def account_takeover_1(context):
    """account-takeover@1 is trained on an ad hoc login export that has no content hash"""
    trained = run(
        "fraud.train_account_takeover",
        "batch-2",
        6,
        [
            dataset("fraud/features/signals", "signals-2"),
            dataset("auth/raw/login_events"),  # exported ad hoc, no content hash
        ],
        [dataset("account-takeover/model.tar.gz", "account-takeover-1", MODELS)],
    )
    ato = model(
        "account-takeover",
        "fraud-detection",
        "limited",
        "Flags logins that look like account takeover.",
        intended_use="Step-up authentication for suspicious logins.",
        known_limitations="Shared household devices raise false alarms.",
        capabilities="Risk score per login session.",
        contact="fraud-models@example.com",
    )
    register(context, ato, "1", trained)


@chapter(days_ago=44)
def account_takeover_1_staging(context):
    """account-takeover@1 goes to staging"""
    to_staging(context, version("account-takeover", "1"))


# --- customer-support ---------------------------------------------------------


def support_batch(context, n: int) -> None:
    run(
        "support.label_intents",
        f"batch-{n}",
        30,
        [dataset("support/raw/tickets", f"tickets-{n}")],
        [dataset("support/labels/intents", f"intents-{n}")],
    )
    trained = run(
        "support.train_triage",
        f"batch-{n}",
        6,
        [
            dataset("support/labels/intents", f"intents-{n}"),
            dataset("support/raw/tickets", f"tickets-{n}"),
        ],
        [dataset("support-triage/model.tar.gz", f"support-triage-{n}", MODELS)],
    )
    triage = model(
        "support-triage",
        "customer-support",
        "minimal",
        "Routes incoming support tickets to the right queue.",
        intended_use="Suggest a queue and priority for new support tickets.",
        out_of_scope_uses="Answering customers directly; closing tickets.",
        known_limitations="Mixed-language tickets are routed to the general queue.",
        capabilities="One of 14 queues with a priority.",
        ethical_considerations="Ticket text may hold personal data; it is never stored in logs.",
        human_oversight="Agents can re-route; re-routes are sampled weekly.",
        contact="support-tools@example.com",
    )
    register(context, triage, str(n), trained)


@chapter(days_ago=72)
def support_triage_batch_1(context):
    """customer-support trains support-triage@1 on labelled tickets"""
    support_batch(context, 1)


@chapter(days_ago=70)
def support_triage_1_staging(context):
    """support-triage@1 goes to staging"""
    target = version("support-triage", "1")
    set_status(context, target, ModelVersionStatus.VALIDATED, "routing accuracy 0.94 on holdout")
    to_staging(context, target)


@chapter(days_ago=68)
def support_triage_1_production(context):
    """support-triage@1 goes to production (minimal tier: one approver)"""
    release(context, version("support-triage", "1"), approvers=("approver3",))


@chapter(days_ago=5)
def support_triage_batch_2(context):
    """support-triage@2 is trained on the latest tickets"""
    support_batch(context, 2)
