from django.apps import AppConfig


class LineageConfig(AppConfig):
    name = "lineage"
    verbose_name = "Lineage"

    def ready(self):
        from lineage import metrics

        metrics.register()
        from lineage.ui import nav  # noqa: F401  (the lineage picture's navigation)
