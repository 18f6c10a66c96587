"""What the registry does when lineage changes."""

from django.db import transaction
from django.dispatch import receiver

from lineage.signals import dataset_version_status_changed
from registry.services import BLOCKING_DATASET_STATUSES
from registry.tasks import notify_dataset_impact


@receiver(dataset_version_status_changed, dispatch_uid="registry-dataset-impact")
def dataset_version_blocked(sender, dataset_version, old_status, new_status, actor=None, **kwargs):
    """A quarantined or revoked dataset version: after commit, tell the affected teams."""
    if new_status not in BLOCKING_DATASET_STATUSES:
        return
    dataset_version_id = dataset_version.pk
    transaction.on_commit(lambda: notify_dataset_impact.delay(dataset_version_id, new_status))
