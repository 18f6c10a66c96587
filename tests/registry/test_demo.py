"""The demo story seeds through the lineage intake and can be seeded again."""

import pytest
from django.core import mail

from accounts import demo as accounts_demo
from lineage.models import LineageEvent
from registry import services
from registry.demo import LAKE, md5, seed_registry
from registry.models import Deployment, ImpactNotification, MLModel, ModelVersion

pytestmark = pytest.mark.django_db


def seed():
    seed_registry({"users": accounts_demo.seed_users()})


def test_demo_tells_its_story_and_is_safe_to_run_twice(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        seed()
    counts = (
        MLModel.objects.count(),
        ModelVersion.objects.count(),
        Deployment.objects.count(),
        LineageEvent.objects.count(),
        ImpactNotification.objects.count(),
    )
    assert counts[0] == 5
    assert set(MLModel.objects.values_list("team__name", flat=True)) == {
        "credit-risk",
        "fraud-detection",
        "customer-support",
    }
    assert sum(not m.card_complete for m in MLModel.objects.all()) == 1
    assert Deployment.objects.filter(environment__name="production", state="live").count() == 4
    assert Deployment.objects.filter(environment__name="staging", state="live").count() == 5

    from lineage.models import DatasetVersion

    revoked = DatasetVersion.objects.get(
        dataset__namespace__name=LAKE,
        dataset__name="credit/raw/bureau_scores",
        version=md5("bureau-2026-02"),
    )
    assert revoked.status == "revoked"
    found = services.impact(revoked)
    assert sorted(str(v) for v in found.model_versions) == ["credit-limit@1", "loan-default@2"]
    assert {(d.model.name, d.environment.name) for d in found.deployments} == {
        ("loan-default", "production"),
        ("credit-limit", "production"),
        ("credit-limit", "staging"),
    }
    assert len(mail.outbox) == 1  # credit-risk was told

    loan3 = ModelVersion.objects.get(model__name="loan-default", version="3")
    assert services.training_data_verdict(loan3).complete
    ato = ModelVersion.objects.get(model__name="account-takeover", version="1")
    assert not services.training_data_verdict(ato).complete

    with django_capture_on_commit_callbacks(execute=True):
        seed()
    assert counts == (
        MLModel.objects.count(),
        ModelVersion.objects.count(),
        Deployment.objects.count(),
        LineageEvent.objects.count(),
        ImpactNotification.objects.count(),
    )
    assert len(mail.outbox) == 1
