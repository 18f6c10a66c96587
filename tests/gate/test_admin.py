"""The board manages decision rights in the admin and reads requests there."""

import pytest

from registry.models import DecisionRight
from tests.gate.conftest import ask

pytestmark = pytest.mark.django_db


def test_admin_pages_render(admin_client, api, pipeline, version, alice):
    request_id = ask(api(pipeline), version).json()["id"]
    api(alice).post(f"/api/deployment-requests/{request_id}/approve", {})
    right = DecisionRight.objects.first()

    for url in (
        "/admin/registry/decisionright/",
        f"/admin/registry/decisionright/{right.pk}/change/",
        "/admin/registry/deploymentrequest/",
        f"/admin/registry/deploymentrequest/{request_id}/change/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    page = admin_client.get(f"/admin/registry/deploymentrequest/{request_id}/change/")
    assert b"alice" in page.content
