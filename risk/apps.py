from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    verbose_name = "Risk register"

    def ready(self):
        from audit.tracking import track
        from config.metrics import register_gauge
        from risk import checks, demo, dossier, metrics, ml_bom, models  # noqa: F401  (registrations)

        track(models.RiskMatrix)
        track(
            models.Risk,
            m2m=("ml_models", "model_versions", "dataset_versions", "features", "deployments"),
        )
        for model in (
            models.Control,
            models.RiskAcceptance,
            models.RiskAcceptanceApproval,
            models.Threshold,
            models.ThresholdRecalibration,
            models.Evaluation,
            models.RequiredEvaluation,
            models.Reminder,
            models.RedTeamFinding,
            models.RedTeamReminder,
        ):
            track(model)
        track(models.RedTeamExercise, m2m=("model_versions", "participants"))
        register_gauge(
            "govreg_open_risks",
            "Risks not closed, by residual level.",
            ("level",),
            metrics.open_risks_by_level,
        )
        register_gauge(
            "govreg_overdue_risk_reviews",
            "Live risks whose next review date has passed.",
            (),
            metrics.overdue_reviews,
        )
        register_gauge(
            "govreg_silent_monitors",
            "Thresholds whose monitor stopped reporting past its cadence and grace period.",
            (),
            metrics.silent_monitors,
        )
        register_gauge(
            "govreg_risks_by_monitoring_sufficiency",
            "Live risks by monitoring sufficiency (none, partial, sufficient).",
            ("sufficiency",),
            metrics.risks_by_sufficiency,
        )
        from risk import (  # noqa: F401  (personal data: gate check, demo)
            privacy,
            privacy_demo,
            public_card,  # noqa: F401  (the public card's evaluations section)
        )
        from risk.ui import console as _console  # noqa: F401  (home panels, model-page sections)
        from risk.ui import nav, redteam, sections  # noqa: F401  (navigation, pages, panels)
