from django.apps import AppConfig


class VocabularyConfig(AppConfig):
    name = "vocabulary"
    verbose_name = "Shared vocabulary"

    def ready(self):
        from audit.tracking import track
        from vocabulary import models, permissions, ui  # noqa: F401  (permission rules, nav)

        # Terms, classifications and tags are tracked as records; assignments are written
        # only by the services, which audit each assignment and removal as its own event.
        for model in (models.GlossaryTerm, models.Classification, models.Tag):
            track(model, m2m=("related_terms",) if model is models.GlossaryTerm else ())
