from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self):
        from audit.tracking import track
        from registry import models

        track(models.MLModel)
        track(models.ModelVersion)
        track(models.Feature)
        track(models.FeatureVersion, m2m=("source_dataset_versions",))
        track(models.Environment)
        track(models.Deployment)
        track(models.ImpactNotification)
        track(models.DecisionRight)
        track(models.MLflowModelLink)
        track(models.MLflowVersionLink)
        track(models.MLflowAlias)
        track(models.PublicCard)
        # Deployment requests and approvals are written only by the gate's services
        # (their admin is read-only), which audit every write as a ``gate.*`` event
        # with what changed; a generic create/update event would say it twice.

        # Registrations: gate checks, fingerprint parts, signal receivers, gauges, demo data.
        from registry import (  # noqa: F401
            checks,
            demo,
            dossier_sections,  # noqa: F401  (dossier sections)
            metrics,
            personal_data,  # noqa: F401  (vocabulary targets, the personal-data section)
            receivers,
        )
        from registry.gate import approval_checks  # noqa: F401
        from registry.gate import demo as gate_demo  # noqa: F401
        from registry.ui import (
            console,  # noqa: F401
            lineage_impact,  # noqa: F401  (the lineage picture's impact)
        )
