"""Builders for risk-register tests: a model of a team with a version, and risks on it."""

import itertools

from registry.models import ModelVersion
from registry.services import register_model
from risk.checks import required_kinds
from risk.models import Evaluation
from risk.services import create_risk

_seq = itertools.count(1)


def make_model(team, *, risk_tier="high", name=None):
    return register_model(
        name=name or f"model-{next(_seq)}",
        team=team,
        risk_tier=risk_tier,
        description="A model under test.",
    )


def make_version(model, *, version="1", registered_by=None):
    return ModelVersion.objects.create(
        model=model,
        version=version,
        artifact_uri=f"s3://models/{model.name}/{version}",
        artifact_digest="sha256:" + "ab" * 32,
        registered_by=registered_by,
    )


def make_risk(team, owner, *, links=None, **fields):
    values = {
        "title": f"risk {next(_seq)}",
        "category": "emergent-behaviour",
        "hypothesis": "the refusal rate rises on long prompts",
        "inherent_likelihood": 4,
        "inherent_impact": 4,
        "residual_likelihood": 2,
        "residual_impact": 2,
        "appetite": "medium",
    }
    values.update(fields)
    return create_risk(team=team, owner=owner, links=links or {}, **values)


def pass_required_evaluations(version, reviewer) -> None:
    """A passing result for every evaluation kind the version's risk tier requires,
    recorded before anything is asked: the risk register's ``required-evaluations``
    check passes, so the story is judged by every app's checks and its subject (the
    approvals, the lapses, the outcomes) decides the answer."""
    for kind in required_kinds(version.model.risk_tier):
        Evaluation.objects.create(
            model_version=version,
            kind=kind,
            name=f"{kind} suite",
            outcome="passed",
            reviewer=reviewer,
            submitted_by=reviewer,
        )
