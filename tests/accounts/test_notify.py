"""The one notification module: mail text from templates, links by URL name on
GOVREG_BASE_URL, and no mail sent while the transaction that decided it is open."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts import notify
from accounts.roles import Role
from risk.models import Reminder
from risk.tasks import review_reminders
from tests.factories import TeamFactory, UserFactory
from tests.risk.factories import make_risk

SENT_INSIDE = []


class WatchingBackend:
    """The locmem outbox, noting whether each mail left inside a transaction."""

    def __init__(self, *args, **kwargs):
        from django.core.mail.backends.locmem import EmailBackend

        self.inner = EmailBackend(*args, **kwargs)

    def send_messages(self, messages):
        SENT_INSIDE.append(connection.in_atomic_block)
        return self.inner.send_messages(messages)


@pytest.fixture
def watching(settings):
    settings.EMAIL_BACKEND = "tests.accounts.test_notify.WatchingBackend"
    SENT_INSIDE.clear()
    return SENT_INSIDE


@pytest.mark.django_db(transaction=True)
def test_a_review_reminder_leaves_after_its_claim_committed_with_absolute_links(
    team, owner, watching, settings
):
    settings.GOVREG_BASE_URL = "https://govreg.example.org/"
    today = timezone.localdate()
    risk = make_risk(team, owner, title="bias drift", next_review_date=today + timedelta(days=1))

    assert review_reminders.delay(today.isoformat()).get()["review-due"] == 1

    assert watching == [False]  # not inside the reminder's transaction
    [message] = mail.outbox
    assert f"https://govreg.example.org/api/risks/{risk.pk}/" in message.body
    assert f"https://govreg.example.org/admin/risk/risk/{risk.pk}/change/" in message.body
    assert (
        message.subject == f"[govreg] Review of risk 'bias drift' is due on {risk.next_review_date}"
    )
    assert Reminder.objects.get().sent_at is not None


@pytest.mark.django_db
def test_compose_renders_templates_without_html_escaping():
    rendered = notify.compose(
        "risk/mail/reminder",
        {
            "kind": "review-overdue",
            "risk": {"pk": 1, "title": "<script> & 'quotes'"},
            "quoted_title": repr("<script> & 'quotes'"),
            "due": "2026-05-04",
            "admin_url": "/a",
            "api_url": "/b",
        },
        ["x@example.com", ""],
    )
    assert rendered.subject.startswith("[govreg] Review of risk \"<script> & 'quotes'\" is overdue")
    assert "\n" not in rendered.subject
    assert "Risk #1: <script> & 'quotes'" in rendered.body
    assert rendered.recipients == ("x@example.com",)


def test_links_are_paths_without_a_base_url(settings):
    settings.GOVREG_BASE_URL = None
    assert notify.link("risk-detail", args=[7]) == "/api/risks/7/"
    assert (
        notify.link("impact", query={"namespace": "s3://lake", "name": "a b"})
        == "/api/impact?namespace=s3://lake&name=a+b"
    )


@pytest.mark.django_db
def test_a_groups_addresses_are_its_active_people_with_mail_once_each_and_no_pipeline(team):
    other = TeamFactory(name="growth")
    UserFactory(username="ada", groups=[team, other])  # in two groups: listed once
    UserFactory(username="bob", email="Bob@Example.com", groups=[team])
    UserFactory(username="gone", is_active=False, groups=[team])
    UserFactory(username="no-mail", email="", groups=[team])
    UserFactory(username="ci-bot", groups=[team, Role.PIPELINE])  # a service account
    UserFactory(username="outsider", groups=[other])
    twin = UserFactory(username="ada-again", groups=[team])
    twin.email = "ada@example.com"  # two accounts, one address: listed once
    twin.save()

    assert notify.group_emails(team) == ["Bob@Example.com", "ada@example.com"]
    assert notify.group_emails(other) == ["ada@example.com", "outsider@example.com"]
    assert notify.group_emails(TeamFactory(name="empty")) == []
    assert notify.group_emails(None) == []
