from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "playbooks"
    verbose_name = "Playbooks and incidents"

    def ready(self):
        from audit.tracking import track
        from playbooks import (  # noqa: F401  (registrations)
            checks,
            demo,
            demo_webhooks,  # noqa: F401  (the demo's signed webhook source)
            dossier,
            metrics,
            mlflow_signals,  # noqa: F401  (ungoverned MLflow aliases)
            models,
        )

        track(models.Playbook, m2m=("thresholds",))
        track(models.PlaybookVersion)
        track(models.Signal, exclude=("payload",))
        track(models.InvestigationTask)
        track(models.Incident, m2m=("dataset_versions", "risks"))
        track(models.StepCompletion)
        track(models.TimelineEntry)
        track(models.Escalation)
        track(models.Drill, m2m=("participants",))
        track(models.PostIncidentReview)
        track(models.ActionItem)
        track(models.FeedbackReport, exclude=("status_token_hash",))
        track(models.IncidentNotice)
        track(models.WebhookSource, exclude=("secret_encrypted",))
        metrics.register()
        from playbooks import (  # noqa: F401
            demo_public,  # the public card and feedback chapters
            public_card,  # the public card's notices and form
            vocabulary,  # incidents and signals may be labelled
        )
        from playbooks.ui import console as _console  # noqa: F401  (home panels, model-page sections)
        from playbooks.ui import (
            nav,  # noqa: F401  (the incident board's navigation)
            sections,  # noqa: F401  (board and risk-page sections)
        )
