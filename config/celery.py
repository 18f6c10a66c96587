"""The Celery application. Eager in the embedded default, a broker in production."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("govreg")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="govreg.ping")
def ping() -> dict:
    """Answer with the worker's host name: proves a task crossed the broker."""
    import socket

    return {"pong": True, "host": socket.gethostname(), "pid": os.getpid()}
