"""Issue #11: the JSON-shaped fields of decision rights and risk matrices are checked
against a JSON Schema, with the messages (keyed by field) they always had."""

import pytest
from django.core.exceptions import ValidationError

from registry.models import DecisionRight
from risk.models import RiskMatrix

pytestmark = pytest.mark.django_db


def _problem(record, field):
    with pytest.raises(ValidationError) as caught:
        record.full_clean()
    return caught.value.message_dict[field][0]


@pytest.mark.parametrize(
    ("required", "message"),
    [
        ({"role": "approver"}, 'Give a list like [{"role": "approver", "count": 2}].'),
        (["approver"], 'Each entry is {"role": ROLE, "count": N}'),
        ([{"role": "approver", "count": 1, "extra": 1}], "Each entry is"),
        # a role that is no text at all is named, not a server error
        ([{"role": ["approver"], "count": 1}], "Unknown role ['approver']"),
        ([{"role": "approver", "count": True}], "Each count is a whole number of at least 1."),
        ([{"role": "approver", "count": 2.0}], "Each count is a whole number of at least 1."),
        # the first entry in the way is the one named
        (
            [{"role": "approver", "count": 1}, {"role": "approver", "count": 1}, {"role": "x"}],
            "Role 'approver' is listed twice.",
        ),
        ([{"role": "wizard", "count": 0}], "Unknown role 'wizard'"),
    ],
)
def test_required_approvals_follow_the_schema(required, message):
    right = DecisionRight(action="accept-risk", required_approvals=required)
    assert _problem(right, "required_approvals").startswith(message)


def test_a_well_formed_right_passes():
    # clean() only: the seeded rights already hold this action's unscoped right
    DecisionRight(
        action="accept-risk",
        required_approvals=[{"role": "approver", "count": 2}, {"role": "board", "count": 1}],
    ).clean()


def _matrix(**fields):
    values = {
        "name": "three",
        "likelihood_labels": ["low", "mid", "high"],
        "impact_labels": ["small", "large"],
        "levels": [["low", "medium"], ["medium", "high"], ["high", "critical"]],
    }
    values.update(fields)
    return RiskMatrix(**values)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"likelihood_labels": ["only"]}, "likelihood_labels", "Give a list of 2 to 10 labels"),
        ({"impact_labels": "small, large"}, "impact_labels", "Give a list of 2 to 10 labels"),
        ({"impact_labels": ["small", "  "]}, "impact_labels", "Every label must be a non-empty"),
        ({"levels": [["low", "medium"]]}, "levels", "Give 3 rows, one per likelihood score."),
        (
            {"levels": [["low", "medium"], ["medium"], ["high", "bogus"]]},
            "levels",
            "Row 2 must have 2 levels, one per impact score.",
        ),
        (
            {"levels": [["low", "medium"], ["medium", "high"], ["high", "bogus"]]},
            "levels",
            "Row 3 has unknown level 'bogus'",
        ),
    ],
)
def test_matrix_shapes_follow_the_schema(fields, field, message):
    assert _problem(_matrix(**fields), field).startswith(message)


def test_a_well_formed_matrix_passes():
    _matrix().full_clean()
