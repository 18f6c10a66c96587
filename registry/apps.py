from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self):
        from audit.tracking import track
        from registry import models

        track(models.MLModel)
