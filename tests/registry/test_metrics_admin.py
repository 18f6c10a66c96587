"""Gauges on /metrics and the board's admin pages with their audit history."""

import pytest

from tests.registry.shipping import ship

pytestmark = pytest.mark.django_db


def test_gauges_count_models_by_tier_and_live_deployments(client, version, production, owner):
    ship(version, production, owner)
    text = client.get("/metrics").content.decode()
    assert 'govreg_models_total{risk_tier="high"} 1.0' in text
    assert 'govreg_models_total{risk_tier="minimal"} 0.0' in text
    assert 'govreg_live_deployments{environment="production"} 1.0' in text
    assert 'govreg_live_deployments{environment="staging"} 0.0' in text


@pytest.fixture
def board_client(client):
    from tests.factories import UserFactory

    user = UserFactory(username="bea", groups=["board"], is_staff=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "name",
    [
        "mlmodel",
        "modelversion",
        "deployment",
        "environment",
        "feature",
        "featureversion",
        "impactnotification",
    ],
)
def test_admin_lists_every_catalog_record(board_client, version, production, owner, name):
    ship(version, production, owner)
    answer = board_client.get(f"/admin/registry/{name}/")
    assert answer.status_code == 200


def test_admin_page_shows_the_audit_history(board_client, version, production, owner):
    deployment = ship(version, production, owner)
    page = board_client.get(f"/admin/registry/modelversion/{version.pk}/change/")
    assert page.status_code == 200
    assert b"create" in page.content
    page = board_client.get(f"/admin/registry/deployment/{deployment.pk}/change/")
    assert page.status_code == 200
    assert b"deployment.live" in page.content
    search = board_client.get("/admin/registry/modelversion/?q=loan-default")
    assert search.status_code == 200
    filtered = board_client.get("/admin/registry/deployment/?state__exact=live")
    assert filtered.status_code == 200
    assert b"loan-default" in filtered.content
