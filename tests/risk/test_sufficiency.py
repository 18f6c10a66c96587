"""Monitoring sufficiency of each risk, computed from its thresholds (and whether they
still report), the evaluations of its model versions and its controls: through the
risk API (detail, list, ``?sufficiency=`` filter) with bounded queries."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from risk import sufficiency
from risk.models import Control, Evaluation, Risk, Threshold
from tests.risk.factories import make_model, make_risk, make_version

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
_metrics = itertools.count(1)


@pytest.fixture
def version(team):
    return make_version(make_model(team, name="chat-assistant"))


def watch(risk, version, *, read_at=T0, every=timedelta(hours=1), metric="refusal_rate"):
    threshold = Threshold(
        risk=risk,
        model_version=version,
        metric=metric,
        comparator="gt",
        warning_value=0.05,
        critical_value=0.1,
        expected_every=every,
        grace=timedelta(minutes=10),
    )
    threshold.full_clean()
    threshold.save()
    Threshold.objects.filter(pk=threshold.pk).update(last_reading_at=read_at)
    return threshold


def evaluate(version, outcome="passed", *, name="long prompts", at=T0, kind="adversarial"):
    return Evaluation.objects.create(
        model_version=version, kind=kind, name=name, outcome=outcome, created_at=at
    )


def control(risk, owner, status="implemented"):
    return Control.objects.create(
        risk=risk, owner=owner, title="refusal review", status=status, evidence_url=""
    )


def monitoring(client, risk):
    response = client.get(f"/api/risks/{risk.pk}/")
    assert response.status_code == 200, response.content
    return response.json()["monitoring"]


def test_a_risk_goes_from_none_to_sufficient_and_back_to_partial(client_for, owner, team, version):
    client = client_for(owner)
    risk = make_risk(team, owner, links={"model_versions": [version]})
    with time_machine.travel(T0, tick=False):
        empty = monitoring(client, risk)
    assert empty["level"] == "none"
    assert empty["reasons"] == [
        "no threshold watches it",
        "no evaluation of its model versions tests it",
        "it has no control",
    ]

    threshold = watch(risk, version)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        watched = monitoring(client, risk)
    assert watched["level"] == "partial"
    assert watched["thresholds"][0]["heartbeat"] == "up"

    evaluate(version)
    control(risk, owner)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        full = monitoring(client, risk)
    assert full["level"] == "sufficient" and full["reasons"] == []
    assert full["evaluations"][0]["kind"] == "adversarial"
    assert full["controls_working"] == 1

    # three days without a reading: the risk is watched by a blind monitor
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        stale = monitoring(client, risk)
    assert stale["level"] == "partial"
    assert stale["reasons"] == ["threshold 'refusal_rate' has had no reading for 3\xa0days"]

    # a newer failing result of the same test case
    Threshold.objects.filter(pk=threshold.pk).update(last_reading_at=T0 + timedelta(days=3))
    evaluate(version, "failed", at=T0 + timedelta(days=1))
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        failing = monitoring(client, risk)
    assert failing["level"] == "partial"
    assert failing["reasons"] == [
        "adversarial evaluation 'long prompts' of chat-assistant@1 last failed on 2026-06-02"
    ]


def test_evaluations_count_through_the_model_and_the_deployment(owner, team, version):
    through_model = make_risk(team, owner, links={"ml_models": [version.model]})
    other = make_version(make_model(team), version="9")
    unrelated = make_risk(team, owner, links={"model_versions": [other]})
    evaluate(version)
    with time_machine.travel(T0, tick=False):
        found = sufficiency.reports([through_model, unrelated])
    assert found[through_model.pk].evaluations[0].kind == "adversarial"
    assert found[through_model.pk].level == "partial"
    assert found[unrelated.pk].level == "none"


def build_register(team, owner, version):
    """Risks in every combination of the three facts (and a threshold without cadence)."""
    risks = []
    for alive, passed, working, failing in itertools.product([None, True, False], *[[0, 1]] * 3):
        risk = make_risk(team, owner, links={"model_versions": [version]})
        if alive is not None:
            metric = f"m{next(_metrics)}"
            read_at = T0 if alive else T0 - timedelta(days=2)
            watch(risk, version, read_at=read_at, metric=metric)
        if passed or failing:
            own = make_version(version.model, version=f"v{risk.pk}")
            risk.model_versions.add(own)
            if passed:
                evaluate(own, name="suite a")
            if failing:
                evaluate(own, "error", name="suite b")
        if working:
            control(risk, owner)
        risks.append(risk)
    no_cadence = make_risk(team, owner)
    watch(no_cadence, version, every=None, metric="no_cadence")
    risks.append(no_cadence)
    return risks


def test_the_filter_and_the_detail_agree_on_every_combination(client_for, owner, team, version):
    risks = build_register(team, owner, version)
    client = client_for(owner)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        detail = {r.pk: monitoring(client, r)["level"] for r in risks}
        listed = {}
        for level in ("none", "partial", "sufficient"):
            body = client.get(f"/api/risks/?sufficiency={level}&limit=100").json()
            listed[level] = {row["id"] for row in body["results"]}
            assert all(row["monitoring"]["level"] == level for row in body["results"])
    for level, ids in listed.items():
        assert ids == {pk for pk, value in detail.items() if value == level}, level
    assert all(listed.values())  # each level occurs
    bad = client.get("/api/risks/?sufficiency=plenty")
    assert bad.status_code == 400 and "sufficiency" in bad.json()["fields"]


def test_the_list_costs_the_same_queries_for_a_page_of_3_or_of_25(
    client_for, owner, team, version, django_assert_max_num_queries
):
    build_register(team, owner, version)
    client = client_for(owner)
    client.get("/api/risks/?limit=1")  # the token and roles are warm
    with time_machine.travel(T0, tick=False):
        with django_assert_max_num_queries(22) as small:
            assert len(client.get("/api/risks/?limit=3").json()["results"]) == 3
        with django_assert_max_num_queries(len(small.captured_queries)) as large:
            body = client.get("/api/risks/?limit=25&sufficiency=partial").json()
            assert len(body["results"]) > 3
    assert len(large.captured_queries) <= len(small.captured_queries)


def test_outsiders_do_not_see_a_risk_or_its_monitoring(client_for, owner, outsider, team, version):
    risk = make_risk(team, owner, links={"model_versions": [version]})
    watch(risk, version)
    assert client_for(outsider).get(f"/api/risks/{risk.pk}/").status_code == 404
    body = client_for(outsider).get("/api/risks/?sufficiency=partial").json()
    assert body["results"] == []
    assert Risk.objects.count() == 1


def test_the_dossier_shows_sufficiency_in_point_3_and_heartbeats_in_point_9(
    client_for, owner, team, version
):
    import jsonschema

    from registry.dossier import dossier_schema

    risk = make_risk(team, owner, title="Refusals rise", links={"model_versions": [version]})
    watch(risk, version, read_at=T0 - timedelta(days=3))
    with time_machine.travel(T0, tick=False):
        document = client_for(owner).get(
            f"/api/models/{version.model.name}/dossier?version={version.version}"
        )
    assert document.status_code == 200, document.content
    document = document.json()
    jsonschema.validate(document, dossier_schema(), cls=jsonschema.Draft202012Validator)
    by_key = {s["key"]: (p["point"], s) for p in document["points"] for s in p["sections"]}
    point, section = by_key["risk.monitoring-sufficiency"]
    assert point == 3
    [row] = section["tables"][0]["rows"]
    assert row["risk"] == "Refusals rise" and row["level"] == "none"
    assert "has had no reading for 3\xa0days" in row["reasons"]
    point, section = by_key["risk.heartbeats"]
    assert point == 9
    assert section["tables"][0]["rows"][0]["state"] == "silent"


def test_the_register_page_lists_and_filters_by_monitoring(client, owner, team, version):
    silent = make_risk(team, owner, title="Silent watch", links={"model_versions": [version]})
    watch(silent, version, read_at=T0 - timedelta(days=3))
    other = make_version(version.model, version="2")
    make_risk(team, owner, title="Watched and tested", links={"model_versions": [other]})
    evaluate(other)
    client.force_login(owner)
    with time_machine.travel(T0, tick=False):
        page = client.get("/risks/?sufficiency=none").content.decode()
        detail = client.get(f"/risks/{silent.pk}/").content.decode()
        partial = client.get("/risks/?sufficiency=partial").content.decode()
    assert "Silent watch" in page and "Watched and tested" not in page
    assert "has had no reading for 3\xa0days" in page
    assert '<option value="none" selected>' in page
    assert "Watched and tested" in partial and "Silent watch" not in partial
    assert "Monitoring sufficiency:" in detail
    assert "silent" in detail and "has had no reading for 3\xa0days" in detail
    assert "a reading every 1\xa0hour (10\xa0minutes&#x27; grace); silent" in detail


def test_a_rerun_at_the_same_instant_is_the_latest_in_sql_and_in_python(owner, team, version):
    """Two results of one test with equal created_at: the later row (higher pk) is the
    latest for the ``?sufficiency=`` filter as for the report (and the gate)."""
    risk = make_risk(team, owner, links={"model_versions": [version]})
    watch(risk, version)
    control(risk, owner)
    evaluate(version, "failed")
    evaluate(version, "passed")  # the re-run, same name, same instant
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        python = sufficiency.report(risk).level
        sql = sufficiency.annotate(Risk.objects.filter(pk=risk.pk)).get().sufficiency
    assert python == sql == "sufficient"
