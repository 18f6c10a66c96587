"""Decision rights as policy records, and the pure functions other apps reuse."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from guardian.shortcuts import assign_perm

from audit.models import AuditEvent
from registry.choices import DecisionAction
from registry.gate.decisions import (
    can_approve,
    conflicted_users,
    requirements_for,
    rights_for,
    tally,
    training_run_authors,
)
from registry.models import DecisionRight
from tests.gate.conftest import make_model

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Vote:
    approver_id: int
    roles: tuple = ("approver",)
    created_at: datetime = NOW - timedelta(hours=1)
    lapsed_at: datetime | None = None
    verdict: str = "approve"


def test_default_rights_are_seeded(production, staging, team):
    limited = make_model(team, "churn", "limited")
    high = make_model(team, "credit", "high")
    banned = make_model(team, "social", "unacceptable")

    assert rights_for("deploy", limited, staging).required_approvals == []
    assert rights_for("deploy", limited, production).required_approvals == [
        {"role": "approver", "count": 1}
    ]
    assert rights_for("deploy", high, production).required_approvals == [
        {"role": "approver", "count": 2}
    ]
    assert rights_for("deploy", banned, staging).forbidden
    DecisionRight.objects.filter(action="close-incident").delete()
    assert rights_for("close-incident", high) is None  # nothing allowed until a right says so


def test_the_most_specific_right_wins(production, team):
    model = make_model(team, "credit", "high")
    tier_wide = rights_for("deploy", model, production)
    own = DecisionRight.objects.create(
        action="deploy",
        environment=production,
        model=model,
        required_approvals=[{"role": "approver", "count": 2}, {"role": "board", "count": 1}],
    )
    any_env_for_model = DecisionRight.objects.create(
        action="deploy", model=model, required_approvals=[{"role": "approver", "count": 3}]
    )

    assert tier_wide.risk_tier == "high"
    assert rights_for("deploy", model, production) == own
    any_env_for_model.delete()
    own.delete()
    assert rights_for("deploy", model, production) == tier_wide


def test_a_high_tier_model_to_production_always_needs_two(production, team):
    model = make_model(team, "credit", "high")
    lax = DecisionRight(
        action="deploy",
        environment=production,
        model=model,
        required_approvals=[{"role": "approver", "count": 1}],
    )
    with pytest.raises(ValidationError) as error:
        lax.full_clean()
    assert "two distinct approvers" in str(error.value)

    # a right for any tier cannot lower it either: the floor applies when it is used
    any_tier = rights_for("deploy", make_model(team, "churn", "limited"), production)
    assert requirements_for(any_tier, model, production) == [{"role": "approver", "count": 2}]


@pytest.mark.parametrize(
    ("required", "message"),
    [
        ("two approvers", "Give a list"),
        ([{"role": "wizard", "count": 1}], "Unknown role"),
        ([{"role": "approver", "count": 0}], "at least 1"),
        ([{"role": "approver"}], "Each entry"),
        ([{"role": "approver", "count": 1}, {"role": "approver", "count": 1}], "twice"),
    ],
)
def test_required_approvals_are_validated(required, message):
    right = DecisionRight(action="accept-risk", required_approvals=required)
    with pytest.raises(ValidationError) as error:
        right.full_clean()
    assert message in str(error.value)


def test_scope_is_one_model_or_one_tier_and_unique(production, team):
    model = make_model(team, "credit", "high")
    both = DecisionRight(action="accept-risk", model=model, risk_tier="high")
    with pytest.raises(ValidationError):
        both.full_clean()
    duplicate = DecisionRight(action="deploy", environment=production, risk_tier="high",
                              required_approvals=[{"role": "approver", "count": 2}])  # fmt: skip
    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()
    assert "exists" in str(error.value)
    env_on_risk = DecisionRight(action="accept-risk", environment=production)
    with pytest.raises(ValidationError):
        env_on_risk.full_clean()


def test_rights_are_audited(team):
    right = DecisionRight.objects.create(
        action="close-incident",
        model=make_model(team, "credit", "high"),
        required_approvals=[{"role": "board", "count": 1}],
    )
    assert AuditEvent.objects.filter(
        action="create", object_type="registry.decisionright", object_id=str(right.pk)
    ).exists()


def test_tally_counts_distinct_valid_people():
    right = DecisionRight(
        action="deploy",
        required_approvals=[{"role": "approver", "count": 2}],
        approval_valid_for=timedelta(days=14),
    )
    assert tally(right, [], set(), NOW) == (False, ["2 more approver (2 required)"])
    assert tally(right, [Vote(1), Vote(1)], set(), NOW) == (False, ["1 more approver (2 required)"])
    assert tally(right, [Vote(1), Vote(2)], set(), NOW) == (True, [])
    assert tally(right, [Vote(1), Vote(2)], {2}, NOW)[0] is False  # separation of duties
    assert tally(right, [Vote(1), Vote(2, lapsed_at=NOW)], set(), NOW)[0] is False
    assert tally(right, [Vote(1), Vote(2, verdict="reject")], set(), NOW)[0] is False
    old = Vote(2, created_at=NOW - timedelta(days=15))
    assert tally(right, [Vote(1), old], set(), NOW)[0] is False
    assert tally(right, [Vote(1), Vote(2, roles=("board",))], set(), NOW)[0] is False


def test_tally_seats_each_person_once_across_roles():
    right = DecisionRight(
        action="accept-risk",
        required_approvals=[{"role": "approver", "count": 1}, {"role": "board", "count": 1}],
    )
    both = Vote(1, roles=("approver", "board"))
    assert tally(right, [both], set(), NOW) == (False, ["1 more board (1 required)"])
    # the matching puts the two-role person where they are needed
    assert tally(right, [both, Vote(2, roles=("approver",))], set(), NOW) == (True, [])


def test_can_approve_needs_the_role_and_the_right_on_that_model(
    team, other_team, alice, frank, member, board_approver
):
    credit = make_model(team, "credit", "high")
    fraud = make_model(other_team, "fraud", "limited")

    assert can_approve(alice, DecisionAction.DEPLOY, credit)[0] is True
    assert can_approve(alice, DecisionAction.DEPLOY, fraud)[0] is False
    assert can_approve(frank, DecisionAction.DEPLOY, fraud)[0] is True
    allowed, reason = can_approve(frank, DecisionAction.DEPLOY, credit)
    assert not allowed and "no approve right on model 'credit'" in reason
    allowed, reason = can_approve(member, DecisionAction.DEPLOY, credit)
    assert not allowed and "approver role" in reason
    assert can_approve(board_approver, DecisionAction.ACCEPT_RISK, credit)[0] is False
    assign_perm("registry.approve_mlmodel", board_approver, credit)
    assert can_approve(board_approver, DecisionAction.ACCEPT_RISK, credit)[0] is True
    assert can_approve(board_approver, DecisionAction.ACCEPT_RISK, fraud)[0] is False


def test_conflicts_name_registrant_requester_and_training_run_author(
    version, pipeline, carol, tara, training_run
):
    assert training_run_authors(training_run) == {tara.pk}
    assert conflicted_users(version, pipeline.pk) == {
        tara.pk: "authored the training run",
        carol.pk: "registered this version",
        pipeline.pk: "requested this deployment",
    }
