"""What the registry does when lineage or a model card changes.

The gate's stored answers change when what an approval covers changes: these
receivers re-judge the open requests concerned inside the writer's transaction
(``registry.gate.services.rejudge_open``), so a lapse is recorded (``gate.lapse``)
when the change happens, not when someone next reads the request.
"""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from lineage import graph
from lineage.signals import dataset_version_status_changed, run_lineage_changed
from registry.gate import services as gate
from registry.models import DeploymentRequest, MLModel
from registry.models.gate import OPEN_REQUEST
from registry.services import BLOCKING_DATASET_STATUSES
from registry.tasks import notify_dataset_impact


def open_versions_by_training_run() -> dict[int, int]:
    """``{model version id: training run id}`` of the versions with an open request
    (one query; empty for most lineage events, which then cost nothing more)."""
    return dict(
        DeploymentRequest.objects.filter(OPEN_REQUEST, model_version__training_run__isnull=False)
        .values_list("model_version_id", "model_version__training_run_id")
        .distinct()
    )


def rejudge_versions_built_on(open_versions: dict[int, int], run_ids) -> None:
    """Re-judge the open requests of the versions trained by one of ``run_ids``."""
    run_ids = set(run_ids)
    affected = [version for version, run in open_versions.items() if run in run_ids]
    if affected:
        gate.rejudge_open(model_version_ids=affected)


@receiver(dataset_version_status_changed, dispatch_uid="registry-dataset-impact")
def dataset_version_blocked(sender, dataset_version, old_status, new_status, actor=None, **kwargs):
    """A quarantined or revoked dataset version: after commit, tell the affected teams."""
    if new_status not in BLOCKING_DATASET_STATUSES:
        return
    dataset_version_id = dataset_version.pk
    transaction.on_commit(lambda: notify_dataset_impact.delay(dataset_version_id, new_status))


@receiver(dataset_version_status_changed, dispatch_uid="registry-gate-dataset-status")
def rejudge_after_status_change(sender, dataset_version, **kwargs):
    """A dataset version's status is part of the lineage fingerprint of every model
    version trained on it, directly or not."""
    open_versions = open_versions_by_training_run()
    if open_versions:
        runs = graph.downstream_run_ids([dataset_version.pk])
        rejudge_versions_built_on(open_versions, runs)


@receiver(run_lineage_changed, dispatch_uid="registry-gate-run-lineage")
def rejudge_after_lineage(sender, run, dataset_version_ids, runs=(), **kwargs):
    """Runs read or wrote dataset versions (``run``, and ``runs`` for a batch): the
    training data of the versions built on them (the runs themselves, or a run
    downstream of what they wrote) may have changed."""
    open_versions = open_versions_by_training_run()
    if not open_versions:
        return
    runs = {run.pk, *(r.pk for r in runs)}
    if dataset_version_ids:
        runs |= graph.downstream_run_ids(dataset_version_ids)
    rejudge_versions_built_on(open_versions, runs)


@receiver(post_save, sender=MLModel, dispatch_uid="registry-gate-model-card")
def rejudge_after_card_change(sender, instance, created, raw=False, **kwargs):
    """The model card is part of the fingerprint of each of the model's versions."""
    if created or raw:
        return
    gate.rejudge_open(model_ids=[instance.pk])
