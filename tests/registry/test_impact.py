"""Impact of a dataset version: every model version built on it, across hops and
models, every deployment serving one; revoking it tells the owning teams."""

import pytest
from django.core import mail

from audit.models import AuditEvent
from lineage.services import change_dataset_version
from registry import services
from registry.models import ImpactNotification
from registry.tasks import notify_dataset_impact
from tests.factories import UserFactory
from tests.registry.conftest import make_model, make_version
from tests.registry.shipping import ship
from tests.registry.story import ds, emit_run, md5, version_of

pytestmark = pytest.mark.django_db

RAW = ds("customers/raw/transactions", md5("transactions-2026-02"))


@pytest.fixture
def estate(team, other_team, owner, outsider, production, staging):
    """One raw table feeding three models of two teams through different paths:

    transactions -> build_features -> customer_features -> train_default  -> loan-default@1
                                                       \\-> train_limits   -> credit-limit@1
                 -> build_fraud_signals -> fraud_signals -> train_fraud    -> card-fraud@1
    plus an unrelated model (churn) trained on other data.
    """
    features = ds("customers/features", md5("features-2026-02"))
    signals = ds("fraud/signals", md5("signals-2026-02"))
    emit_run("build_features", [RAW], [features])
    emit_run("build_fraud_signals", [RAW], [signals])
    t_default = emit_run("train_default", [features], [ds("m/default", md5("a1"), "s3://m")])
    t_limits = emit_run("train_limits", [features, ds("limits/policy", md5("p1"))], [])
    t_fraud = emit_run("train_fraud", [signals], [ds("m/fraud", md5("f1"), "s3://m")])
    t_churn = emit_run("train_churn", [ds("crm/events", md5("crm"))], [])

    loan = make_model(team, "loan-default")
    limits = make_model(team, "credit-limit", tier="limited")
    fraud = make_model(other_team, "card-fraud")
    churn = make_model(other_team, "churn")
    versions = {
        "loan": make_version(loan, t_default, "1", user=owner),
        "limits": make_version(limits, t_limits, "1", user=owner),
        "fraud": make_version(fraud, t_fraud, "1", user=outsider),
        "churn": make_version(churn, t_churn, "1", user=outsider),
    }
    deployments = {
        "loan": ship(versions["loan"], production, owner),
        "fraud_staging": services.deploy(versions["fraud"], staging, outsider),
        "churn": ship(versions["churn"], production, outsider),
    }
    raw = version_of(RAW["name"], RAW["facets"]["version"]["datasetVersion"])
    return {"raw": raw, "versions": versions, "deployments": deployments}


def test_impact_reaches_every_model_built_on_the_raw_data(estate):
    found = services.impact(estate["raw"])
    assert sorted(str(v) for v in found.model_versions) == [
        "card-fraud@1",
        "credit-limit@1",
        "loan-default@1",
    ]
    assert sorted((d.model.name, d.environment.name) for d in found.deployments) == [
        ("card-fraud", "staging"),
        ("loan-default", "production"),
    ]


def test_impact_api_answers_with_models_versions_and_environments(client_for, auditor, estate):
    query = (
        "/api/impact?namespace=s3://lake&name=customers/raw/transactions"
        f"&version={estate['raw'].version}"
    )
    body = client_for(auditor).get(query).json()
    assert body["dataset_version"]["id"] == estate["raw"].pk
    assert sorted((v["model"], v["version"]) for v in body["model_versions"]) == [
        ("card-fraud", "1"),
        ("credit-limit", "1"),
        ("loan-default", "1"),
    ]
    assert sorted((d["model"], d["version"], d["environment"]) for d in body["deployments"]) == [
        ("card-fraud", "1", "staging"),
        ("loan-default", "1", "production"),
    ]
    assert all("id" in item for item in body["model_versions"] + body["deployments"])


def test_impact_is_scoped_to_what_the_caller_may_see(client_for, owner, outsider, estate):
    query = (
        "/api/impact?namespace=s3://lake&name=customers/raw/transactions"
        f"&version={estate['raw'].version}"
    )
    mine = client_for(owner).get(query).json()
    assert sorted(v["model"] for v in mine["model_versions"]) == ["credit-limit", "loan-default"]
    assert [d["model"] for d in mine["deployments"]] == ["loan-default"]
    theirs = client_for(outsider).get(query).json()
    assert [v["model"] for v in theirs["model_versions"]] == ["card-fraud"]


def test_impact_of_an_intermediate_version_is_narrower(client_for, auditor, estate):
    signals = version_of("fraud/signals", md5("signals-2026-02"))
    body = (
        client_for(auditor)
        .get(f"/api/impact?namespace=s3://lake&name=fraud/signals&version={signals.version}")
        .json()
    )
    assert [v["model"] for v in body["model_versions"]] == ["card-fraud"]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("name=x&version=y", 400, "namespace"),
        ("namespace=s3://lake&version=y", 400, "name"),
        ("namespace=s3://lake&name=customers/raw/transactions", 400, "version"),
        ("namespace=s3://lake&name=customers/raw/transactions&version=md5:nope", 404, "version"),
    ],
)
def test_impact_bad_queries_name_the_parameter(client_for, auditor, estate, query, status, field):
    answer = client_for(auditor).get(f"/api/impact?{query}")
    assert answer.status_code == status
    assert field in answer.json()["fields"]


def test_revoking_tells_each_owning_team_once(estate, member, django_capture_on_commit_callbacks):
    steward = UserFactory(username="steward", groups=["ml-engineer"])
    with django_capture_on_commit_callbacks(execute=True):
        change_dataset_version(estate["raw"], actor=steward, status="revoked")

    assert len(mail.outbox) == 2  # credit-risk and fraud-detection; churn's team is not told
    by_team = {m.subject.split(" of ")[-1].removesuffix(" affected"): m for m in mail.outbox}
    credit = by_team["credit-risk"]
    assert sorted(credit.to) == ["mark@example.com", "olivia@example.com"]
    assert "loan-default@1" in credit.body
    assert "credit-limit@1" in credit.body
    assert "loan-default@1 in production" in credit.body
    assert "card-fraud" not in credit.body
    assert by_team["fraud-detection"].to == ["oscar@example.com"]

    events = AuditEvent.objects.filter(action="registry.impact.notified")
    assert sorted(e.after["team"] for e in events) == ["credit-risk", "fraud-detection"]
    assert ImpactNotification.objects.count() == 2

    # The task is idempotent: running it again sends nothing.
    notify_dataset_impact.delay(estate["raw"].pk, "revoked")
    assert len(mail.outbox) == 2
    assert ImpactNotification.objects.count() == 2


def test_quarantine_then_revoke_are_two_notices(estate, django_capture_on_commit_callbacks):
    steward = UserFactory(username="steward", groups=["ml-engineer"])
    with django_capture_on_commit_callbacks(execute=True):
        change_dataset_version(estate["raw"], actor=steward, status="quarantined")
    with django_capture_on_commit_callbacks(execute=True):
        change_dataset_version(estate["raw"], actor=steward, status="active")
    assert len(mail.outbox) == 2
    with django_capture_on_commit_callbacks(execute=True):
        change_dataset_version(estate["raw"], actor=steward, status="revoked")
    assert len(mail.outbox) == 4
    assert "is revoked" in mail.outbox[-1].subject


def test_nothing_is_sent_before_the_change_commits(estate, django_capture_on_commit_callbacks):
    steward = UserFactory(username="steward", groups=["ml-engineer"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        change_dataset_version(estate["raw"], actor=steward, status="revoked")
    assert mail.outbox == []
    assert len(callbacks) == 1


def test_a_stale_notice_is_skipped(estate):
    result = notify_dataset_impact.delay(estate["raw"].pk, "revoked").get()
    assert result["notified"] == []
    assert mail.outbox == []


def test_revoked_training_data_shows_in_the_version(client_for, owner, estate):
    steward = UserFactory(username="steward", groups=["ml-engineer"])
    change_dataset_version(estate["raw"], actor=steward, status="revoked")
    body = client_for(owner).get(f"/api/model-versions/{estate['versions']['loan'].pk}/").json()
    assert body["training_data_complete"] is False
    assert "customers/raw/transactions" in body["training_data_problems"][0]


@pytest.mark.django_db(transaction=True)
def test_the_impact_mail_leaves_after_the_notice_committed(estate, settings):
    from tests.accounts.test_notify import SENT_INSIDE

    settings.EMAIL_BACKEND = "tests.accounts.test_notify.WatchingBackend"
    settings.GOVREG_BASE_URL = "https://govreg.example.org"
    SENT_INSIDE.clear()
    steward = UserFactory(username="steward", groups=["ml-engineer"])
    change_dataset_version(estate["raw"], actor=steward, status="revoked")

    assert SENT_INSIDE == [False, False]  # one mail per team, none inside a transaction
    assert ImpactNotification.objects.count() == 2
    assert all(
        "Details: GET https://govreg.example.org/api/impact?namespace=s3://lake" in m.body
        for m in mail.outbox
    )


def test_a_mail_server_failure_gives_the_notice_back_for_the_retry(estate, settings):
    from tests.risk.test_reminders import BrokenBackend  # noqa: F401 (named below)

    steward = UserFactory(username="steward", groups=["ml-engineer"])
    change_dataset_version(estate["raw"], actor=steward, status="revoked")
    settings.EMAIL_BACKEND = "tests.risk.test_reminders.BrokenBackend"
    with pytest.raises(ConnectionError):
        notify_dataset_impact.delay(estate["raw"].pk, "revoked").get()
    assert ImpactNotification.objects.count() == 0
    assert not AuditEvent.objects.filter(action="registry.impact.notified").exists()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notify_dataset_impact.delay(estate["raw"].pk, "revoked").get()["notified"] == [
        "credit-risk",
        "fraud-detection",
    ]
    assert len(mail.outbox) == 2
