"""Demo data for ``make run``: three teams' models with real lineage.

Lineage is made the way pipelines make it, through OpenLineage START and
COMPLETE events given to ``lineage.services.ingest_event``; run ids and event
times are fixed, so running the seeder again ingests nothing new. The story:

- credit-risk retrains ``loan-default`` monthly from application and bureau
  data through a feature job; ``credit-limit`` shares those features.
- the February bureau extract is revoked (consent withdrawn): the impact
  view shows loan-default@2 and credit-limit@1, both live in production, and
  the owning team was emailed. loan-default@3, trained on March data, waits
  in staging.
- fraud-detection runs ``card-fraud`` (two versions, the second in
  production) and ``account-takeover`` (staging; its card is incomplete and
  one input has no content hash, so the gate will refuse it).
- customer-support runs ``support-triage``, a ticket router.
"""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import Group

from accounts.demo import register
from lineage.models import DatasetVersion, Run
from lineage.services import change_dataset_version, ingest_event
from registry import services
from registry.choices import ModelVersionStatus
from registry.models import Environment, Feature, FeatureVersion, MLModel

LAKE = "s3://govreg-demo-lake"
MODELS = "s3://govreg-demo-models"
SCHEDULER = "airflow://govreg-demo"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/airflow"
RUN_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
VERSION_FACET_SCHEMA = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)
T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
MONTHS = ("2026-01", "2026-02", "2026-03")


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


def run(job: str, key: str, start: datetime, inputs=(), outputs=()) -> Run:
    """One run of ``job`` as a scheduler reports it: START, then COMPLETE with its outputs."""
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"govreg-demo/{job}/{key}"))
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


def _model(name: str, team: str, tier: str, description: str, **card) -> MLModel:
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


def _version(model: MLModel, label: str, training_run: Run, user, status=None):
    version = model.versions.filter(version=label).first()
    if version is None:
        digest = hashlib.sha256(f"{model.name}/{label}".encode()).hexdigest()
        version = services.register_version(
            model=model,
            version=label,
            artifact_uri=f"{MODELS}/{model.name}/{label}/model.tar.gz",
            artifact_digest=f"sha256:{digest}",
            code_repository=f"https://git.example.com/{model.team.name}/{model.name}",
            code_commit=digest[:12],
            training_run=training_run,
            registered_by=user,
        )
    if status and version.status != status:
        services.change_version_status(version, status, reason="demo history")
    return version


def _history(model: MLModel, steps, user) -> None:
    """Deploy ``(version, environment name, when)`` in order, once."""
    if model.deployments.exists():
        return
    for version, environment, when in steps:
        services.deploy(version, Environment.objects.get(name=environment), user, now=when)


def _feature(name: str, team: str, description: str, version: str, definition: str, sources):
    feature = Feature.objects.filter(name=name).first() or services.register_feature(
        name=name, team=Group.objects.get(name=team), description=description
    )
    if not FeatureVersion.objects.filter(feature=feature, version=version).exists():
        services.add_feature_version(
            feature=feature,
            version=version,
            definition_kind="expression",
            definition=definition,
            source_dataset_versions=sources,
        )


def _credit(pipeline, day) -> None:
    feature_runs = {}
    for i, month in enumerate(MONTHS):
        feature_runs[month] = run(
            "credit.build_applicant_features",
            month,
            day(i * 30),
            [
                dataset("credit/raw/applications", f"applications-{month}"),
                dataset("credit/raw/bureau_scores", f"bureau-{month}"),
            ],
            [dataset("credit/features/applicant", f"applicant-features-{month}")],
        )
    trained = {}
    for i, month in enumerate(MONTHS):
        trained[month] = run(
            "credit.train_loan_default",
            month,
            day(i * 30 + 1),
            [
                dataset("credit/features/applicant", f"applicant-features-{month}"),
                dataset("credit/labels/defaults", f"defaults-{month}"),
            ],
            [dataset("loan-default/model.tar.gz", f"loan-default-{month}", MODELS)],
        )
    limits_runs = {
        month: run(
            "credit.train_credit_limit",
            month,
            day(i * 30 + 2),
            [
                dataset("credit/features/applicant", f"applicant-features-{month}"),
                dataset("credit/policy/limit_bands", "limit-bands-v4"),
            ],
            [dataset("credit-limit/model.tar.gz", f"credit-limit-{month}", MODELS)],
        )
        for i, month in ((1, "2026-02"), (2, "2026-03"))
    }

    card = {
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
    loan = _model(
        "loan-default",
        "credit-risk",
        "high",
        "Probability of default for consumer loan applications.",
        **card,
    )
    v1 = _version(loan, "1", trained["2026-01"], pipeline, ModelVersionStatus.DEPRECATED)
    v2 = _version(loan, "2", trained["2026-02"], pipeline, ModelVersionStatus.VALIDATED)
    v3 = _version(loan, "3", trained["2026-03"], pipeline)
    _history(
        loan,
        [
            (v1, "staging", day(3)),
            (v1, "production", day(5)),
            (v2, "staging", day(33)),
            (v2, "production", day(35)),
            (v3, "staging", day(63)),
        ],
        pipeline,
    )
    limit = _model(
        "credit-limit",
        "credit-risk",
        "limited",
        "Recommends a credit-card limit band for approved applicants.",
        **{
            **card,
            "intended_use": "Recommend an initial limit band for approved card applicants.",
            "capabilities": "One of six limit bands with a confidence score.",
        },
    )
    l1 = _version(limit, "1", limits_runs["2026-02"], pipeline, ModelVersionStatus.VALIDATED)
    _version(limit, "2", limits_runs["2026-03"], pipeline)
    _history(limit, [(l1, "staging", day(36)), (l1, "production", day(38))], pipeline)

    _feature(
        "applicant-debt-ratio",
        "credit-risk",
        "Monthly debt service over declared income.",
        "1",
        "sum(monthly_debt_payments) / nullif(declared_monthly_income, 0)",
        [
            DatasetVersion.objects.get(
                dataset__name="credit/raw/applications", version=md5("applications-2026-02")
            ),
            DatasetVersion.objects.get(
                dataset__name="credit/raw/bureau_scores", version=md5("bureau-2026-02")
            ),
        ],
    )


def _fraud(pipeline, day) -> None:
    signals = {}
    for i, month in enumerate(MONTHS[:2]):
        signals[month] = run(
            "fraud.build_signals",
            month,
            day(i * 30 + 4),
            [dataset("payments/raw/card_transactions", f"card-transactions-{month}")],
            [dataset("fraud/features/signals", f"signals-{month}")],
        )
    trained = {
        month: run(
            "fraud.train_card_fraud",
            month,
            day(i * 30 + 5),
            [
                dataset("fraud/features/signals", f"signals-{month}"),
                dataset("fraud/labels/chargebacks", f"chargebacks-{month}"),
            ],
            [dataset("card-fraud/model.tar.gz", f"card-fraud-{month}", MODELS)],
        )
        for i, month in enumerate(MONTHS[:2])
    }
    ato_run = run(
        "fraud.train_account_takeover",
        "2026-02",
        day(40),
        [
            dataset("fraud/features/signals", "signals-2026-02"),
            dataset("auth/raw/login_events"),  # exported ad hoc, no content hash
        ],
        [dataset("account-takeover/model.tar.gz", "ato-2026-02", MODELS)],
    )
    card_fraud = _model(
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
    c1 = _version(card_fraud, "1", trained["2026-01"], pipeline, ModelVersionStatus.DEPRECATED)
    c2 = _version(card_fraud, "2", trained["2026-02"], pipeline, ModelVersionStatus.VALIDATED)
    _history(
        card_fraud,
        [(c1, "production", day(8)), (c2, "staging", day(36)), (c2, "production", day(39))],
        pipeline,
    )
    ato = _model(
        "account-takeover",
        "fraud-detection",
        "limited",
        "Flags logins that look like account takeover.",
        intended_use="Step-up authentication for suspicious logins.",
        known_limitations="Shared household devices raise false alarms.",
        capabilities="Risk score per login session.",
        contact="fraud-models@example.com",
    )
    a1 = _version(ato, "1", ato_run, pipeline)
    _history(ato, [(a1, "staging", day(42))], pipeline)
    _feature(
        "card-velocity-24h",
        "fraud-detection",
        "Card transactions in the past 24 hours.",
        "1",
        "count(*) over (partition by card_id range interval '24 hours' preceding)",
        [
            DatasetVersion.objects.get(
                dataset__name="payments/raw/card_transactions",
                version=md5("card-transactions-2026-02"),
            )
        ],
    )


def _support(pipeline, day) -> None:
    run(
        "support.label_intents",
        "2026-q1",
        day(20),
        [dataset("support/raw/tickets", "tickets-2026-q1")],
        [dataset("support/labels/intents", "intents-2026-q1")],
    )
    trained = run(
        "support.train_triage",
        "2026-q1",
        day(21),
        [
            dataset("support/labels/intents", "intents-2026-q1"),
            dataset("support/raw/tickets", "tickets-2026-q1"),
        ],
        [dataset("support-triage/model.tar.gz", "triage-2026-q1", MODELS)],
    )
    triage = _model(
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
    t1 = _version(triage, "1", trained, pipeline, ModelVersionStatus.VALIDATED)
    _history(triage, [(t1, "staging", day(22)), (t1, "production", day(24))], pipeline)


def _revoke_bureau_february(admin) -> None:
    """Consent withdrawn for the February bureau extract: impact shows, teams are told."""
    revoked = DatasetVersion.objects.get(
        dataset__namespace__name=LAKE,
        dataset__name="credit/raw/bureau_scores",
        version=md5("bureau-2026-02"),
    )
    if revoked.status != "revoked":
        change_dataset_version(
            revoked,
            actor=admin,
            status="revoked",
            consent_notes="The bureau withdrew consent for this extract on 2026-03-20.",
        )


@register(order=20)
def seed_registry(context: dict) -> None:
    users = context["users"]
    pipeline, admin = users["pipeline"], users["admin"]

    def day(n: int) -> datetime:
        return T0 + timedelta(days=n)

    _credit(pipeline, day)
    _fraud(pipeline, day)
    _support(pipeline, day)
    _revoke_bureau_february(admin)
