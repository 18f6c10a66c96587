"""Background work of the registry."""

import smtplib

from celery import shared_task

from audit.context import acting_as
from config.celery_tasks import RetryingTask
from registry import mlflow_sync, services
from registry.mlflow_sync import MLflowUnavailable


@shared_task(
    name="registry.notify_dataset_impact",
    base=RetryingTask,
    autoretry_for=(smtplib.SMTPException, ConnectionError),
    retry_backoff=True,
    max_retries=5,
)
def notify_dataset_impact(dataset_version_id: int, status: str) -> dict:
    """Email the teams whose model versions were built on a dataset version that turned
    quarantined or revoked. Idempotent: a team is told once per (version, status); a
    mail server failure gives the team's notice back and is retried with backoff."""
    with acting_as(name="registry.notify_dataset_impact"):
        return services.notify_impact(dataset_version_id, status)


@shared_task(
    name="registry.sync_mlflow",
    base=RetryingTask,
    autoretry_for=(MLflowUnavailable,),
    retry_backoff=True,
    max_retries=3,
)
def sync_mlflow(models: list[str] | None = None) -> dict:
    """The beat's MLflow registry sync (and a webhook's, for one model). Idempotent: a
    second run on the same MLflow state changes nothing. An unreachable server keeps
    what was imported and is retried with backoff."""
    with acting_as(name="registry.sync_mlflow"):
        report = mlflow_sync.sync(models)
    if report.stopped:
        raise MLflowUnavailable(report.stopped)
    return report.as_dict()
