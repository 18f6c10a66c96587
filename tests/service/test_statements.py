"""config.statements: querysets compiled once, run with new values, answering as the ORM."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from config.statements import Statement
from registry.models import MLModel

pytestmark = pytest.mark.django_db


def make_model(name, team):
    return MLModel.objects.create(name=name, team=team, risk_tier="minimal")


def _models_of_team(team):
    return MLModel.objects.filter(team=team).select_related("team").order_by("name")


MODELS_OF_TEAM = Statement(_models_of_team, team=int)


def test_answers_what_the_orm_answers_for_each_value():
    one, two = Group.objects.create(name="one"), Group.objects.create(name="two")
    a = make_model(name="a", team=one)
    b = make_model(name="b", team=one)
    c = make_model(name="c", team=two)
    for team, expected in ((one, [a, b]), (two, [c])):
        found = MODELS_OF_TEAM.all(team=team.pk)
        assert found == list(_models_of_team(team)) == expected
        with CaptureQueriesContext(connection) as queries:
            assert [m.team.name for m in found] == [team.name] * len(expected)
        assert len(queries) == 0  # select_related filled in from the one statement
    assert MODELS_OF_TEAM.all(team=Group.objects.create(name="empty").pk) == []


def test_one_statement_per_run_and_the_same_text_each_time():
    team = Group.objects.create(name="team")
    make_model(name="m", team=team)
    texts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            MODELS_OF_TEAM.all(team=team.pk)
        assert len(queries) == 1
        texts.append(queries[0]["sql"])
    assert texts[0] == texts[1]


def test_a_moment_is_a_slot_and_a_frozen_one_is_refused():
    team = Group.objects.create(name="team")
    made = make_model(name="m", team=team)
    statement = Statement(
        lambda team, now: MLModel.objects.filter(team=team, created_at__gt=now),
        team=int,
        now=datetime,
    )
    before, after = made.created_at - timedelta(seconds=1), made.created_at + timedelta(seconds=1)
    assert statement.all(team=team.pk, now=before) == [made]
    assert statement.all(team=team.pk, now=after) == []
    if connection.vendor != "postgresql":
        return  # SQLite binds moments as text: the frozen-moment check is PostgreSQL's
    frozen = Statement(
        lambda team: MLModel.objects.filter(
            team=team, created_at__gt=datetime.now(UTC) - timedelta(days=1)
        ),
        team=int,
    )
    with pytest.raises(ValueError, match="fixed at build time"):
        frozen.all(team=team.pk)


def test_values_list_rows_are_tuples():
    team = Group.objects.create(name="team")
    make_model(name="x", team=team)
    names = Statement(
        lambda team: MLModel.objects.filter(team=team).values_list("name", "team_id"), team=int
    )
    assert names.all(team=team.pk) == [("x", team.pk)]


def test_every_slot_must_be_named_and_kinds_are_checked():
    with pytest.raises(TypeError, match="every slot"):
        MODELS_OF_TEAM.all()
    with pytest.raises(TypeError, match="int, str or datetime"):
        Statement(_models_of_team, team=float)


def test_a_changed_setting_builds_again():
    built = []

    def build(team):
        built.append(team)
        return _models_of_team(team)

    statement = Statement(build, team=int)
    statement.all(team=1)
    statement.all(team=2)
    assert len(built) == 1
    with override_settings(GOVREG_SHARED_ESCALATION_GROUPS=["x"]):
        statement.all(team=1)
    assert len(built) >= 2


def test_a_slot_a_lookup_rewrites_is_refused_not_bound_wrongly():
    """``icontains`` binds ``%value%``: the caller's value cannot take its place."""
    rewritten = Statement(lambda name: MLModel.objects.filter(name__icontains=name), name=str)
    with pytest.raises(ValueError, match="rewritten"):
        rewritten.all(name="churn")


@pytest.mark.postgres
def test_prepared_statements_can_be_off_behind_a_pooler():
    """GOVREG_DB_PREPARED_STATEMENTS=false leaves psycopg's threshold unset: the same
    statement runs unprepared with the same answer, and prepares nothing."""
    team = Group.objects.create(name="team")
    made = make_model(name="m", team=team)
    connection.ensure_connection()
    raw = connection.connection
    kept = raw.prepare_threshold
    try:
        raw.prepare_threshold = None
        before = raw.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        assert MODELS_OF_TEAM.all(team=team.pk) == [made]
        after = raw.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        assert after == before
    finally:
        raw.prepare_threshold = kept
    assert kept == 5  # on by default
    assert MODELS_OF_TEAM.all(team=team.pk) == [made]
    prepared = raw.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    assert prepared >= 1
