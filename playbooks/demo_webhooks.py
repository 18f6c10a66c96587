"""Demo chapter of the signed generic webhook: the admin registers credit-risk's drift
monitor as a signed webhook source, with a secret the README's example signs with
(a real source gets a random one, shown once)."""

from django.contrib.auth.models import Group

from accounts.demo import as_user, chapter
from playbooks.models import WebhookSource
from playbooks.services import webhook_sources

DEMO_SOURCE = "drift-monitor"
DEMO_WEBHOOK_SECRET = "govreg-demo-webhook-secret"  # noqa: S105 - documented, demo only


@chapter(days_ago=1)
def drift_monitor_source(context):
    """the admin registers credit-risk's drift monitor as a signed webhook source"""
    if WebhookSource.objects.filter(name=DEMO_SOURCE).exists():
        return
    admin = context["users"]["admin"]
    with as_user(context, "admin"):
        webhook_sources.create_source(
            name=DEMO_SOURCE,
            team=Group.objects.get(name="credit-risk"),
            user=admin,
            description="credit-risk's drift and data-quality monitor (demo secret)",
            secret=DEMO_WEBHOOK_SECRET,
        )
