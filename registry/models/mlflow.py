"""What the MLflow registry sync (``registry.mlflow_sync``) knows of an MLflow tracking
server: which registered model and version each govreg record came from, and the
version each watched alias pointed at when the sync last looked (so an alias that
moves is seen once, and re-reading the same state changes nothing)."""

from django.db import models

__all__ = ["MLflowAlias", "MLflowModelLink", "MLflowVersionLink"]


class MLflowModelLink(models.Model):
    """A govreg model imported from (or matched to) an MLflow registered model."""

    model = models.OneToOneField(
        "registry.MLModel", on_delete=models.PROTECT, related_name="mlflow_link"
    )
    mlflow_name = models.CharField(
        max_length=256, unique=True, help_text="The registered model's name in MLflow."
    )
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["mlflow_name"]
        verbose_name = "MLflow model link"

    def __str__(self):
        return f"{self.mlflow_name} -> {self.model_id}"


class MLflowVersionLink(models.Model):
    """A govreg model version imported from an MLflow model version, with MLflow's
    identity of it (name and version number) and what MLflow says about it."""

    model_version = models.OneToOneField(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="mlflow_link"
    )
    model_link = models.ForeignKey(
        MLflowModelLink, on_delete=models.PROTECT, related_name="versions"
    )
    mlflow_version = models.CharField(max_length=32, help_text="MLflow's version number.")
    run_id = models.CharField(max_length=64, blank=True, help_text="The MLflow run that made it.")
    source = models.CharField(max_length=1000, blank=True, help_text="MLflow's source URI.")
    description = models.TextField(blank=True)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["model_link", "model_version"]
        verbose_name = "MLflow version link"
        constraints = [
            models.UniqueConstraint(
                fields=["model_link", "mlflow_version"],
                name="%(app_label)s_%(class)s_unique_mlflow_version",
                violation_error_message="This MLflow version is linked already.",
            )
        ]

    def __str__(self):
        return f"{self.model_link.mlflow_name}/{self.mlflow_version}"


class MLflowAlias(models.Model):
    """The version an MLflow alias that the settings map to a govreg environment pointed
    at when the sync last read it (empty: the alias was removed)."""

    model_link = models.ForeignKey(
        MLflowModelLink, on_delete=models.PROTECT, related_name="aliases"
    )
    alias = models.CharField(max_length=256)
    mlflow_version = models.CharField(max_length=32, blank=True)
    environment_name = models.CharField(
        max_length=50,
        blank=True,
        help_text="The govreg environment GOVREG_MLFLOW_ALIAS_ENVIRONMENTS maps the alias "
        "to; empty: not watched.",
    )
    changed_at = models.DateTimeField(help_text="When the sync saw it point there.")

    class Meta:
        ordering = ["model_link", "alias"]
        verbose_name = "MLflow alias"
        verbose_name_plural = "MLflow aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["model_link", "alias"],
                name="%(app_label)s_%(class)s_unique_alias",
                violation_error_message="This alias of this MLflow model is known already.",
            )
        ]

    def __str__(self):
        return f"{self.model_link.mlflow_name}@{self.alias} -> {self.mlflow_version or '-'}"
