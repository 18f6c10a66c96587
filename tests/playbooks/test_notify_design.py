"""How the playbooks services are put together: no import cycle hidden in a function,
webhook retries by Celery's own retry policy, mail text from templates."""

import ast
from pathlib import Path

import pytest
import requests
from django.core import mail

from playbooks.services import notify
from playbooks.tasks import send_escalation_webhook

SERVICES = Path(notify.__file__).parent


@pytest.mark.parametrize("module", sorted(p.name for p in SERVICES.glob("*.py")))
def test_services_import_at_module_level_only(module):
    """A function-level import that breaks a cycle means a shared concept belongs in
    a module of its own."""
    tree = ast.parse((SERVICES / module).read_text())
    late = [
        f"{module}:{node.lineno}"
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert late == []


def test_the_webhook_is_retried_by_celerys_retry_policy():
    assert send_escalation_webhook.autoretry_for == (requests.RequestException,)
    assert send_escalation_webhook.max_retries == 5
    assert send_escalation_webhook.retry_backoff


@pytest.mark.django_db
def test_the_escalation_mail_links_the_incident(
    model, playbook, owner, settings, django_capture_on_commit_callbacks
):
    from playbooks.services import incidents
    from playbooks.services.playbooks import latest_version
    from tests.playbooks.conftest import T0

    settings.GOVREG_BASE_URL = "https://govreg.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        incident = incidents.open_incident(
            model=model, title="PSI <high> & rising", playbook_version=latest_version(playbook),
            now=T0,
        )  # fmt: skip
    [message] = mail.outbox
    assert message.subject == "[govreg] Escalation level 1: PSI <high> & rising"
    assert "has 15 minutes to acknowledge it" in message.body
    assert f"https://govreg.example.org/api/incidents/{incident.pk}" in message.body
