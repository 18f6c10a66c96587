"""Lineage records: what OpenLineage events and DVC imports tell us.

Identity follows OpenLineage: a dataset or job is ``(namespace, name)``, a run
is its ``runId``. A dataset version is identified by its content hash when one
is known (the ``version`` dataset facet, e.g. ``md5:<dvc md5>``), otherwise by
the run that produced it. ``RunInput``/``RunOutput`` are the edges of the
lineage graph; ``graph.py`` walks them with recursive CTEs, so both carry an
index in each direction and their ``created_at`` answers "as of" questions.
"""

from django.db import models
from django.db.models import Q

from lineage.choices import EventKind, RunState, VersionStatus


class Namespace(models.Model):
    """An OpenLineage namespace (a scheduler, a warehouse, a DVC repository...)."""

    name = models.CharField(max_length=1024, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Dataset(models.Model):
    """A dataset as OpenLineage names it; its content lives in its versions."""

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=1024)
    facets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "name"],
                name="%(app_label)s_%(class)s_unique_namespace_name",
                violation_error_message="A dataset with this name exists in this namespace.",
            )
        ]

    def __str__(self):
        return f"{self.namespace.name}:{self.name}"


class Job(models.Model):
    """A job (pipeline step, training job, DVC stage) that runs read and write datasets."""

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="jobs")
    name = models.CharField(max_length=1024)
    facets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "name"],
                name="%(app_label)s_%(class)s_unique_namespace_name",
                violation_error_message="A job with this name exists in this namespace.",
            )
        ]

    def __str__(self):
        return f"{self.namespace.name}:{self.name}"


class Run(models.Model):
    """One execution of a job. Its state is the one of its latest event by event time."""

    run_id = models.UUIDField(unique=True)
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="runs")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.START)
    nominal_start_time = models.DateTimeField(null=True, blank=True)
    nominal_end_time = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_event_time = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    facets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["job", "-created_at"], name="lineage_run_job_created")]

    def __str__(self):
        return str(self.run_id)


class DatasetVersion(models.Model):
    """One content of a dataset, with the governance status models trained on it inherit."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=255)
    content_hash = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.ACTIVE
    )
    privacy_notes = models.TextField(blank=True)
    consent_notes = models.TextField(blank=True)
    licence_notes = models.TextField(blank=True)
    producing_run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="produced_versions"
    )
    facets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "version"],
                name="%(app_label)s_%(class)s_unique_dataset_version",
                violation_error_message="This dataset already has a version with this identifier.",
            )
        ]

    def __str__(self):
        return f"{self.dataset}@{self.version}"


class RunInput(models.Model):
    """Edge: a run read a dataset version."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="inputs")
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="consumers"
    )
    facets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "dataset_version"],
                name="%(app_label)s_%(class)s_unique_edge",
                violation_error_message="This run already reads this dataset version.",
            )
        ]
        indexes = [
            models.Index(fields=["dataset_version", "run"], name="lineage_runinput_dv_run"),
        ]

    def __str__(self):
        return f"{self.run_id} reads {self.dataset_version_id}"


class RunOutput(models.Model):
    """Edge: a run wrote a dataset version."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="outputs")
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="producers"
    )
    facets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "dataset_version"],
                name="%(app_label)s_%(class)s_unique_edge",
                violation_error_message="This run already writes this dataset version.",
            )
        ]
        indexes = [
            models.Index(fields=["dataset_version", "run"], name="lineage_runoutput_dv_run"),
        ]

    def __str__(self):
        return f"{self.run_id} writes {self.dataset_version_id}"


class ColumnLineage(models.Model):
    """Column-level lineage from the ``columnLineage`` facet of an output dataset version."""

    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.CASCADE, related_name="column_lineage"
    )
    output_field = models.CharField(max_length=1024)
    input_dataset = models.ForeignKey(
        Dataset, on_delete=models.PROTECT, related_name="column_consumers"
    )
    input_field = models.CharField(max_length=1024)
    transformations = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset_version", "output_field", "input_dataset", "input_field"],
                name="%(app_label)s_%(class)s_unique_edge",
                violation_error_message="This column edge is already recorded.",
            )
        ]

    def __str__(self):
        return f"{self.input_field} -> {self.output_field}"


class LineageEvent(models.Model):
    """The raw OpenLineage event as received, stored once (``body_hash`` is unique)."""

    body = models.JSONField()
    body_hash = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=EventKind.choices, default=EventKind.RUN)
    event_type = models.CharField(max_length=16, blank=True)
    event_time = models.DateTimeField(db_index=True)
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    job_namespace = models.CharField(max_length=1024, blank=True)
    job_name = models.CharField(max_length=1024, blank=True)
    producer = models.CharField(max_length=2048, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-event_time", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["body_hash"],
                name="%(app_label)s_%(class)s_unique_body_hash",
                violation_error_message="This event is already stored.",
            ),
            models.CheckConstraint(
                condition=~Q(body_hash=""),
                name="%(app_label)s_%(class)s_body_hash_set",
                violation_error_message="The body hash is required.",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.event_type} {self.event_time:%Y-%m-%d %H:%M:%S}"
