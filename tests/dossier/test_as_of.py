"""asOf: the dossier as it stood then, what the approvers saw: records made later are
left out, and a card, a status, a threshold's values read as they were."""

from datetime import UTC, datetime

import pytest
import time_machine

from playbooks.models import Incident
from registry import dossier, services
from risk.models import Evaluation, Threshold
from risk.services import recalibrate_threshold
from tests.dossier.conftest import CARD, add_risk, add_version
from tests.registry.story import training_chain

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
AS_OF = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)


def at(moment):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def history(team, owner):
    with at(T0):
        model = services.register_model(
            name="loan-default", team=team, risk_tier="high", description="PD", **CARD
        )
        version = add_version(model, "1", training_chain("loans")["training_run"], owner)
    with at(T1):
        risk = add_risk(model, version, owner)
        threshold = Threshold.objects.create(
            risk=risk,
            model_version=version,
            metric="score_psi",
            comparator="gt",
            warning_value=0.1,
            critical_value=0.25,
        )
    with at(T2):
        model.intended_use = "Score consumer and small-business loans."
        model.save()
        risk.residual_likelihood = 4
        risk.save()
        recalibrate_threshold(
            threshold, warning=0.2, critical=0.4, user=owner, reason="Seasonal drift."
        )
        Evaluation.objects.create(
            model_version=version, kind="scenario", name="late test", outcome="passed"
        )
        services.change_version_status(version, "validated", reason="tests passed")
        Incident.objects.create(title="Later incident", model=model, model_version=version)
        add_risk(model, version, owner, title="A risk found later")
    return {"model": model, "version": version}


def sections(document):
    return {s["key"]: s for p in document["points"] for s in p["sections"]}


def facts(section):
    return {fact["key"]: fact["value"] for fact in section["facts"]}


def rows(section, index=0):
    return section["tables"][index]["rows"]


def build(version, auditor, as_of=None):
    version = type(version).objects.select_related("model__team").get(pk=version.pk)
    document = dossier.build_dossier(version, user=auditor, as_of=as_of)
    dossier.validate_dossier(document)
    return sections(document), document


def test_as_of_shows_what_stood_then(history, auditor):
    then, document = build(history["version"], auditor, AS_OF)
    assert document["as_of"] == "2026-03-10T12:00:00Z"
    assert facts(then["registry.card"])["intended_use"] == CARD["intended_use"]
    assert facts(then["registry.system"])["status"] == "Registered"
    assert [r["risk"] for r in rows(then["risk.register"])] == ["Score drift"]
    assert rows(then["risk.register"])[0]["residual"] == "medium (2x3)"
    threshold = rows(then["risk.thresholds"])[0]
    assert (threshold["warning"], threshold["critical"]) == (0.1, 0.25)
    assert rows(then["risk.thresholds"], 1) == []  # no recalibration yet
    assert not then["risk.evaluations"]["recorded"]
    assert not then["playbooks.incidents"]["recorded"]
    assert [r["status"] for r in rows(then["registry.versions"])] == ["registered"]


def test_without_as_of_it_is_the_dossier_of_now(history, auditor):
    now, _ = build(history["version"], auditor)
    assert facts(now["registry.card"])["intended_use"].startswith("Score consumer and small")
    assert facts(now["registry.system"])["status"] == "Validated"
    assert [r["risk"] for r in rows(now["risk.register"])] == ["Score drift", "A risk found later"]
    assert rows(now["risk.register"])[0]["residual"].endswith("(4x3)")
    threshold = rows(now["risk.thresholds"])[0]
    assert (threshold["warning"], threshold["critical"]) == (0.2, 0.4)
    assert rows(now["risk.thresholds"], 1)[0]["reason"] == "Seasonal drift."
    assert rows(now["risk.evaluations"])[0]["name"] == "late test"
    assert rows(now["playbooks.incidents"])[0]["title"] == "Later incident"


def test_the_audit_trail_section_ends_at_as_of(history, auditor):
    then, _ = build(history["version"], auditor, AS_OF)
    now, _ = build(history["version"], auditor)
    events_then = rows(then["registry.audit-trail"])
    events_now = rows(now["registry.audit-trail"])
    assert events_then and all(e["at"] <= "2026-03-10T12:00:00Z" for e in events_then)
    assert len(events_now) > len(events_then)
