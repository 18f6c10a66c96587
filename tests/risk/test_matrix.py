"""The risk matrix: levels as data, computed for every cell, validated at the edges."""

import pytest
from django.core.exceptions import ValidationError

from risk.models import RiskMatrix
from tests.risk.factories import make_risk

# The seeded default, row per likelihood 1..5, column per impact 1..5.
EXPECTED = [
    ["low", "low", "low", "low", "medium"],
    ["low", "low", "medium", "medium", "high"],
    ["low", "medium", "medium", "high", "high"],
    ["low", "medium", "high", "high", "critical"],
    ["medium", "high", "high", "critical", "critical"],
]

pytestmark = pytest.mark.django_db


def test_one_default_matrix_is_seeded_5_by_5():
    matrix = RiskMatrix.default()
    assert matrix is not None
    assert (matrix.likelihood_size, matrix.impact_size) == (5, 5)
    assert matrix.likelihood_labels[0] == "Rare" and matrix.impact_labels[-1] == "Severe"
    matrix.full_clean()


@pytest.mark.parametrize("likelihood", range(1, 6))
@pytest.mark.parametrize("impact", range(1, 6))
def test_level_of_every_cell(likelihood, impact):
    matrix = RiskMatrix.default()
    assert matrix.level(likelihood, impact) == EXPECTED[likelihood - 1][impact - 1]


@pytest.mark.parametrize(
    ("likelihood", "impact", "axis"),
    [
        (0, 3, "likelihood"),
        (6, 3, "likelihood"),
        (3, 0, "impact"),
        (3, 6, "impact"),
        (-1, 2, "likelihood"),
        ("3", 2, "likelihood"),
        (2, 2.5, "impact"),
        (True, 2, "likelihood"),
    ],
)
def test_off_the_matrix_is_refused_naming_the_axis(likelihood, impact, axis):
    with pytest.raises(ValidationError) as caught:
        RiskMatrix.default().level(likelihood, impact)
    assert axis in caught.value.message_dict


def test_risk_levels_are_computed_on_save_and_follow_edits(team, owner):
    risk = make_risk(
        team,
        owner,
        inherent_likelihood=5,
        inherent_impact=5,
        residual_likelihood=1,
        residual_impact=3,
    )
    assert (risk.inherent_level, risk.residual_level) == ("critical", "low")
    risk.residual_likelihood = 4
    risk.save()
    risk.refresh_from_db()
    assert risk.residual_level == "high"
    risk.residual_impact = 5
    risk.save(update_fields=["residual_impact"])
    risk.refresh_from_db()
    assert risk.residual_level == "critical"


def test_scores_outside_the_matrix_never_reach_the_database(team, owner):
    with pytest.raises(ValidationError) as caught:
        make_risk(team, owner, residual_impact=9)
    assert "residual_impact" in caught.value.message_dict


def test_a_malformed_matrix_is_refused():
    bad = RiskMatrix(
        name="bad",
        likelihood_labels=["a", "b"],
        impact_labels=["x", "y", "z"],
        levels=[["low", "low", "low"], ["low", "severe", "low"]],
    )
    with pytest.raises(ValidationError) as caught:
        bad.full_clean()
    assert "unknown level 'severe'" in caught.value.message_dict["levels"][0]
    bad.levels = [["low", "low"], ["low", "low"]]
    with pytest.raises(ValidationError) as caught:
        bad.full_clean()
    assert "3 levels" in caught.value.message_dict["levels"][0]


def test_redrawing_the_matrix_relevels_its_risks(team, owner):
    risk = make_risk(team, owner, residual_likelihood=2, residual_impact=2)
    assert risk.residual_level == "low"
    matrix = RiskMatrix.default()
    matrix.levels[1][1] = "high"
    matrix.full_clean()
    matrix.save()
    assert matrix.relevel_risks() == 1
    risk.refresh_from_db()
    assert risk.residual_level == "high"


def test_a_matrix_cannot_shrink_below_scores_in_use(team, owner):
    make_risk(team, owner, inherent_likelihood=5)
    matrix = RiskMatrix.default()
    matrix.likelihood_labels = matrix.likelihood_labels[:3]
    matrix.levels = matrix.levels[:3]
    with pytest.raises(ValidationError) as caught:
        matrix.full_clean()
    assert "likelihood_labels" in caught.value.message_dict


def test_only_one_default(db):
    second = RiskMatrix(
        name="second",
        likelihood_labels=["a", "b"],
        impact_labels=["x", "y"],
        levels=[["low", "low"], ["low", "high"]],
        is_default=True,
    )
    with pytest.raises(ValidationError) as caught:
        second.full_clean()
    assert "Only one risk matrix can be the default." in str(caught.value)
