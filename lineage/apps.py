from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "lineage"
    verbose_name = "Lineage"

    def ready(self):
        from lineage import metrics

        metrics.register()
        from lineage import vocabulary  # noqa: F401  (datasets and versions may be labelled)
        from lineage.ui import nav  # noqa: F401  (the lineage picture's navigation)
