"""Tags that flow along lineage: a model version trained on personal data.

A version is *trained on personal data* when one of the dataset versions upstream of
its training run (``services.training_data``, read from lineage, never typed in) is
tagged ``PII.Sensitive`` in the shared vocabulary: the dataset version itself, its
dataset, or a column of its dataset. Computed on every read, never stored, so a tag
added or removed upstream shows at once on the version's page, its API answer, its
dossier and the gate (``risk.privacy``).

Also here: the registry's records in the vocabulary (models, versions, features).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.urls import reverse

from lineage import graph
from lineage.models import Dataset, DatasetVersion
from registry import services
from registry.dossier import SectionData, Table, dossier_section
from registry.gate.ui import Section
from registry.models import ModelVersion
from registry.pdf import NOT_RECORDED
from registry.ui.sections import model_section
from vocabulary.choices import PII_SENSITIVE
from vocabulary.models import Assignment
from vocabulary.services import assignments_of, tag_named
from vocabulary.targets import register_target

register_target(
    "model", "registry.MLModel", page=lambda m: reverse("ui-model-detail", args=[m.name])
)
register_target(
    "model-version",
    "registry.ModelVersion",
    scope_path="model",
    scope_model="registry.MLModel",
    title=lambda v: f"{v.model.name} v{v.version}",
    related=("model",),
    page=lambda v: reverse("ui-model-detail", args=[v.model.name]),
)
register_target("feature", "registry.Feature")


MISSING = object()


@dataclass
class PersonalData:
    """Which of a version's training dataset versions are personal data, and why."""

    dataset_versions: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)  # dataset version id -> why

    @property
    def trained_on_personal_data(self) -> bool:
        return bool(self.dataset_versions)


def personal_data_among(dataset_versions, *, as_of: datetime | None = None) -> PersonalData:
    """The dataset versions of ``dataset_versions`` tagged ``PII.Sensitive`` (on the
    version, its dataset or a column of it): one query for the tags (none without a
    ``PII.Sensitive`` tag or dataset versions; none either when they were read with
    ``services.training_data``, which loads what is asked here with them)."""
    dataset_versions = list(dataset_versions)
    if dataset_versions and all(
        getattr(dv, services.PERSONAL_DATA_AS_OF, MISSING) == as_of for dv in dataset_versions
    ):
        on_version = {dv.pk for dv in dataset_versions if getattr(dv, services.TAGGED_PERSONAL)}
        on_dataset = {
            dv.dataset_id: getattr(dv, services.TAGGED_PERSONAL_FIELDS)
            for dv in dataset_versions
            if getattr(dv, services.TAGGED_PERSONAL_FIELDS)
        }
        return _found(dataset_versions, on_version, on_dataset)
    tag = tag_named(PII_SENSITIVE)
    if tag is None or not dataset_versions:
        return PersonalData()
    types = ContentType.objects.get_for_models(DatasetVersion, Dataset)
    rows = Assignment.objects.filter(tag=tag).filter(
        Q(
            content_type=types[DatasetVersion],
            object_id__in=[dv.pk for dv in dataset_versions],
        )
        | Q(content_type=types[Dataset], object_id__in={dv.dataset_id for dv in dataset_versions})
    )
    if as_of is not None:
        rows = rows.filter(created_at__lte=as_of)
    on_version, on_dataset = set(), {}
    for content_type_id, object_id, column in rows.values_list(
        "content_type_id", "object_id", "field"
    ):
        if content_type_id == types[DatasetVersion].pk:
            on_version.add(object_id)
        else:
            on_dataset.setdefault(object_id, []).append(column)
    return _found(dataset_versions, on_version, on_dataset)


def _found(dataset_versions, on_version: set, on_dataset: dict) -> PersonalData:
    """``on_version``: ids of the dataset versions tagged; ``on_dataset``: dataset id ->
    the fields tagged on it ("" for the whole dataset)."""
    found = PersonalData()
    for dv in dataset_versions:
        if dv.pk in on_version:
            why = f"{dv} is tagged {PII_SENSITIVE}"
        elif dv.dataset_id in on_dataset:
            columns = sorted(c for c in on_dataset[dv.dataset_id] if c)
            where = f"its columns {', '.join(columns)} are" if columns else "its dataset is"
            if columns and "" in on_dataset[dv.dataset_id]:
                where = "its dataset is"
            why = f"{dv}: {where} tagged {PII_SENSITIVE}"
        else:
            continue
        found.dataset_versions.append(dv)
        found.reasons[dv.pk] = why
    return found


def personal_data(version: ModelVersion, *, as_of: datetime | None = None) -> PersonalData:
    """Whether (and through which dataset versions) ``version`` is trained on personal data."""
    return personal_data_among(services.training_data(version, as_of=as_of), as_of=as_of)


@dossier_section(
    "registry.personal-data", point=2, title="Personal data in the training data", order=25
)
def personal_data_section(version, context) -> SectionData:
    """Art. 10(5) and GDPR: which training dataset versions hold personal data, and the
    consent and privacy notes recorded for each."""
    dataset_versions = services.training_data(version, as_of=context.as_of)
    if not dataset_versions:
        return SectionData()
    found = personal_data_among(dataset_versions, as_of=context.as_of)
    if not found.trained_on_personal_data:
        return SectionData(
            text=f"No training dataset version is tagged {PII_SENSITIVE}.",
            facts=[("trained_on_personal_data", "Trained on personal data", False)],
        )
    stood = context.stood(found.dataset_versions, ("privacy_notes", "consent_notes"))
    return SectionData(
        text=f"Trained on personal data: {len(stood)} training dataset version(s) are tagged "
        f"{PII_SENSITIVE} in the shared vocabulary (computed from lineage and tags).",
        facts=[("trained_on_personal_data", "Trained on personal data", True)],
        tables=[
            Table(
                "personal_data",
                "Dataset versions holding personal data",
                [
                    ("dataset", "Dataset version"),
                    ("why", "Why"),
                    ("consent_notes", "Consent"),
                    ("privacy_notes", "Privacy"),
                ],
                [
                    {
                        "dataset": f"{dv.dataset.namespace.name}:{dv.dataset.name}@{dv.version}",
                        "why": found.reasons[dv.pk],
                        "consent_notes": dv.consent_notes or NOT_RECORDED,
                        "privacy_notes": dv.privacy_notes or NOT_RECORDED,
                    }
                    for dv in stood
                ],
                widths=(30, 30, 20, 20),
            )
        ],
    )


VERSIONS_SHOWN = 10


def runs_on_personal_data() -> set[int]:
    """Ids of every run built, directly or not, on a dataset version tagged
    ``PII.Sensitive`` (on it, its dataset or a column): the same rule read downstream,
    in a fixed number of queries however many versions a page shows."""
    tag = tag_named(PII_SENSITIVE)
    if tag is None:
        return set()
    types = ContentType.objects.get_for_models(DatasetVersion, Dataset)
    on_versions, on_datasets = set(), set()
    rows = Assignment.objects.filter(
        tag=tag, content_type__in=[types[DatasetVersion], types[Dataset]]
    ).values_list("content_type_id", "object_id")
    for content_type_id, object_id in rows:
        (on_versions if content_type_id == types[DatasetVersion].pk else on_datasets).add(object_id)
    if on_datasets:
        on_versions |= set(
            DatasetVersion.objects.filter(dataset_id__in=on_datasets).values_list("pk", flat=True)
        )
    return graph.downstream_run_ids(on_versions) if on_versions else set()


@model_section("personal-data", order=15)
def personal_data_on_model_page(model, user) -> Section:
    """The newest versions: trained on personal data or not; and the labels the shared
    vocabulary gives the model."""
    versions = list(model.versions.order_by("-created_at", "-pk")[:VERSIONS_SHOWN])
    runs = runs_on_personal_data() if versions else set()
    rows = [
        {
            "version": f"v{version.version}",
            "trained on personal data": "yes" if version.training_run_id in runs else "no",
        }
        for version in versions
    ]
    labels = ", ".join(a.label for a in assignments_of(model)) or "none"
    return Section(
        "Personal data and labels",
        columns=["version", "trained on personal data"],
        rows=rows,
        note=f"Computed from each version's training data (lineage) and its {PII_SENSITIVE} "
        f"tags, newest {VERSIONS_SHOWN} versions; which dataset versions, and their consent "
        f"notes, are in the version's API answer and its dossier. The model's labels: {labels}.",
        empty="No version registered.",
    )
