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
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Dataset(models.Model):
    """A dataset as OpenLineage names it; its content lives in its versions.

    ``facets``, ``lifecycle_state`` and ``current_version`` follow event time, not
    arrival order: ``last_event_time`` is the time of the newest event that set the
    facets, ``current_version_time`` of the newest event that wrote a version.
    """

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=1024)
    facets = models.JSONField(default=dict, blank=True)
    last_event_time = models.DateTimeField(null=True, blank=True)
    lifecycle_state = models.CharField(max_length=32, blank=True)
    current_version = models.ForeignKey(
        "DatasetVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    current_version_time = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField("Tag", blank=True, related_name="datasets")
    deleted_at = models.DateTimeField(null=True, blank=True)
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
    """A job (pipeline step, training job, DVC stage) that runs read and write datasets.

    ``declared_time`` is the event time of the newest JobEvent, whose inputs and outputs
    are the job's declared lineage (``JobDataset``)."""

    namespace = models.ForeignKey(Namespace, on_delete=models.PROTECT, related_name="jobs")
    name = models.CharField(max_length=1024)
    facets = models.JSONField(default=dict, blank=True)
    current_version = models.ForeignKey(
        "JobVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    declared_time = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
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
    # the runId as the emitter sent it; ``run_id`` is a name-based UUID of it when it is
    # not a UUID (as Marquez derives it)
    source_run_id = models.CharField(max_length=1024, blank=True)
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="runs")
    job_version = models.ForeignKey(
        "JobVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.NEW)
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
    # the ``lifecycleStateChange`` facet of the event that wrote it (CREATE, DROP, ...)
    lifecycle_state = models.CharField(max_length=32, blank=True)
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


class PendingProjection(models.Model):
    """A raw event the intake stored and the projector has not yet projected (queued
    projection, ``lineage.queue``). The row is deleted in the transaction that
    projects its event, so a projector that dies mid-batch leaves it here. The foreign
    key (no cascade) keeps a queued event from being deleted; retention skips them."""

    event = models.OneToOneField(
        LineageEvent, on_delete=models.DO_NOTHING, primary_key=True, related_name="pending"
    )
    queued_at = models.DateTimeField(auto_now_add=True)
    # why the event's projection failed on its own; a failed row is skipped until
    # ``manage.py project_lineage --retry-failed`` clears it
    error = models.TextField(blank=True, db_default="")

    class Meta:
        ordering = ["event"]

    def __str__(self):
        return f"pending {self.event_id}"


class JobVersion(models.Model):
    """A version of a job: its source location and the datasets it reads and writes.

    ``version`` is a name-based UUID of the job's name, location, inputs and outputs
    (Marquez identifies job versions the same way), so the same shape is the same version.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="versions")
    version = models.UUIDField()
    location = models.CharField(max_length=2048, blank=True)
    inputs = models.JSONField(default=list, blank=True)
    outputs = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "version"],
                name="%(app_label)s_%(class)s_unique_job_version",
                violation_error_message="This job already has this version.",
            )
        ]

    def __str__(self):
        return f"{self.job}@{self.version}"


class JobDataset(models.Model):
    """A job's declared lineage: an input or output named by its newest JobEvent."""

    INPUT = "input"
    OUTPUT = "output"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="declared")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="declared_by")
    direction = models.CharField(
        max_length=8, choices=[(INPUT, "input"), (OUTPUT, "output")], default=INPUT
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "dataset", "direction"],
                name="%(app_label)s_%(class)s_unique_edge",
                violation_error_message="This job already declares this dataset.",
            )
        ]

    def __str__(self):
        return f"{self.job_id} {self.direction} {self.dataset_id}"


class DatasetSymlink(models.Model):
    """Another identifier of a dataset (the ``symlinks`` facet): a table's path, a
    catalog name... A read by this namespace and name finds the dataset."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="symlinks")
    namespace = models.CharField(max_length=1024)
    name = models.CharField(max_length=1024)
    type = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "name"],
                name="%(app_label)s_%(class)s_unique_identifier",
                violation_error_message="This identifier already names a dataset.",
            )
        ]

    def __str__(self):
        return f"{self.namespace}:{self.name} -> {self.dataset_id}"


class Tag(models.Model):
    """A label for datasets and their fields (Marquez's tags, e.g. PII, SENSITIVE)."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class FieldTag(models.Model):
    """A tag on one field (column) of a dataset."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="field_tags")
    field = models.CharField(max_length=1024)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="fields")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "field", "tag"],
                name="%(app_label)s_%(class)s_unique_tag",
                violation_error_message="This field already carries this tag.",
            )
        ]

    def __str__(self):
        return f"{self.dataset_id}.{self.field}: {self.tag_id}"
