"""Background work of the registry."""

import smtplib

from celery import shared_task

from audit.context import acting_as
from config.celery_tasks import RetryingTask
from registry import services


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
