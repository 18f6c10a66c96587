"""The admin pages of every playbooks record open for an administrator, with the
record's audit history on its change page."""

import pytest

from playbooks.services import incidents
from playbooks.services.playbooks import latest_version
from tests.factories import UserFactory
from tests.playbooks.conftest import T0

PAGES = [
    "playbook",
    "playbookversion",
    "signal",
    "investigationtask",
    "incident",
    "postincidentreview",
    "drill",
    "actionitem",
]


@pytest.mark.django_db
def test_admin_lists_and_change_pages_open(client, model, playbook):
    incident = incidents.open_incident(
        model=model, title="PSI critical", playbook_version=latest_version(playbook), now=T0
    )
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    for name in PAGES:
        answer = client.get(f"/admin/playbooks/{name}/")
        assert answer.status_code == 200, name
    page = client.get(f"/admin/playbooks/incident/{incident.pk}/change/")
    assert page.status_code == 200
    assert b"PSI critical" in page.content
    page = client.get(f"/admin/playbooks/playbook/{playbook.pk}/change/")
    assert page.status_code == 200
    assert b"create" in page.content  # the audit history of the playbook
