"""Lineage's records in the shared vocabulary: datasets (and their columns) and dataset
versions. Everyone signed in reads lineage; whoever writes lineage (pipeline,
ml-engineer, admin) or governs dataset versions labels them.

Tags arriving in OpenLineage's ``tags`` dataset facet (on the dataset or one of its
fields) land on the same vocabulary records as Marquez's tag endpoints
(``services.tag_dataset``): ``services.apply_tag_facets`` after each intake."""

from django.urls import reverse

from accounts.permissions import may_any
from vocabulary.targets import register_target


def _may_label(user, obj) -> bool:
    return may_any(user, "add", "lineage.lineageevent") or may_any(
        user, "change", "lineage.datasetversion"
    )


register_target(
    "dataset",
    "lineage.Dataset",
    may_label=_may_label,
    fields=True,
    related=("namespace",),
    everyone_reads=True,
)
register_target(
    "dataset-version",
    "lineage.DatasetVersion",
    may_label=_may_label,
    related=("dataset__namespace",),
    everyone_reads=True,
    page=lambda dv: reverse("ui-lineage-version", args=[dv.pk]),
)


def facet_tag_name(entry: dict) -> str | None:
    """The tag an OpenLineage ``tags`` facet entry names: ``key`` when its value is true
    or empty, ``key.value`` otherwise (``{"key": "PII", "value": "Sensitive"}``)."""
    key = str(entry.get("key") or "").strip()
    if not key:
        return None
    value = str(entry.get("value") or "").strip()
    if value.lower() in ("", "true"):
        return key
    return f"{key}.{value}"
