"""A Celery task base for tasks that retry with ``autoretry_for``.

In the embedded default tasks run eagerly and propagate their errors
(``task_eager_propagates``); Celery then raises the ``Retry`` of an automatic retry
out of ``apply`` instead of running the retry. With this base the retry runs in
process at once (there is no broker to wait on), up to ``max_retries``, exactly as
a worker would run it later; any other error still propagates."""

from celery import Task
from celery.exceptions import Retry


class RetryingTask(Task):
    abstract = True

    def apply(self, args=None, kwargs=None, *, retries=None, **options):
        try:
            return super().apply(args, kwargs, retries=retries, **options)
        except Retry as retry:
            if retry.sig is None:
                raise
            return retry.sig.apply(retries=(retries or 0) + 1)
