"""Storing a batch of evaluation results (a JUnit report, a JSON list) for one model
version: one insert and one audit event for the whole report, written last, so the
audit chain's lock is held for one short append however many test cases the report
holds (a per-row event would hold it across thousands of appends)."""

from collections import Counter

from django.db import transaction

from audit.services import record
from audit.tracking import rows_digest
from risk.checks import results_changed
from risk.choices import EvaluationOutcome
from risk.models import Evaluation

BATCH_SIZE = 500  # rows per INSERT statement


def store_report(version, evaluations: list[Evaluation], *, source: str) -> list[Evaluation]:
    """Insert the validated, unsaved ``evaluations`` of ``version`` in one transaction
    and record one ``evaluation.report`` event naming them (ids, outcome counts and
    the digest of the rows). Returns them with their ids."""
    for evaluation in evaluations:
        evaluation.passed = evaluation.outcome == EvaluationOutcome.PASSED  # what save() sets
    with transaction.atomic():
        stored = Evaluation.objects.bulk_create(evaluations, batch_size=BATCH_SIZE)
        record(
            "evaluation.report",
            obj=version,
            after={
                "source": source,
                "count": len(stored),
                "outcomes": dict(sorted(Counter(e.outcome for e in stored).items())),
                "kinds": dict(sorted(Counter(e.kind for e in stored).items())),
                "run_references": sorted({e.run_reference for e in stored if e.run_reference}),
                "ids": sorted(e.pk for e in stored),
                "rows_sha256": rows_digest(stored),
            },
        )
        results_changed(version.pk)  # the gate re-judges the version's open requests
    return stored
