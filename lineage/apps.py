from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "lineage"
    verbose_name = "Lineage"

    def ready(self):
        from django.core.signals import request_finished, request_started

        from lineage import metrics, queue

        # a request's projection nudge is sent after its answer (lineage.queue.nudge)
        request_started.connect(queue.request_started, dispatch_uid="lineage.queue")
        request_finished.connect(queue.request_finished, dispatch_uid="lineage.queue")

        metrics.register()
        from lineage import vocabulary  # noqa: F401  (datasets and versions may be labelled)
        from lineage.ui import nav  # noqa: F401  (the lineage picture's navigation)
