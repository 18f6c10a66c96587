"""Hugging Face model cards in and out: a README.md written by huggingface_hub itself
(ModelCard.from_template with ModelCardData) is imported onto the card fields, what
cannot be mapped is reported, and export then import changes nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from accounts.services import issue_token
from audit.models import AuditEvent
from registry.models import MLModel
from tests.registry.conftest import CARD


def hub_card() -> str:
    """A card as a team publishes it on the hub, from the library's default template."""
    data = ModelCardData(
        license="apache-2.0",
        datasets=["acme/loan-applications"],
        metrics=["roc_auc"],
        language="en",
        tags=["tabular-classification", "credit"],
        library_name="sklearn",
        model_name="loan-default",
        eval_results=[
            EvalResult(
                task_type="tabular-classification",
                dataset_type="acme/loan-applications",
                dataset_name="Loan applications 2024",
                metric_type="roc_auc",
                metric_value=0.87,
            )
        ],
    )
    card = ModelCard.from_template(
        data,
        model_id="loan-default",
        model_summary="Gradient-boosted scorecard for consumer loan default.",
        direct_use="Rank loan applications by the probability of default.",
        out_of_scope_use="Not for employment, housing or insurance decisions.",
        bias_risks_limitations="Applicants with thin credit files are scored conservatively.",
        model_card_contact="credit-risk@example.com",
        training_data="Loan applications 2019-2023 from the core banking system.",
    )
    return str(card)


def post_card(client, name, text, query=""):
    return client.post(
        f"/api/models/{name}/card{query}", data=text.encode(), content_type="text/markdown"
    )


def test_a_card_written_by_huggingface_hub_fills_the_card_fields(client_for, owner, model):
    client = client_for(owner)
    answer = post_card(client, "loan-default", hub_card())
    assert answer.status_code == 200, answer.content
    body = answer.json()
    model.refresh_from_db()
    assert model.intended_use == "Rank loan applications by the probability of default."
    assert model.out_of_scope_uses == "Not for employment, housing or insurance decisions."
    assert model.known_limitations.startswith("Applicants with thin credit files")
    assert model.contact == "credit-risk@example.com"
    assert model.description.startswith("Gradient-boosted scorecard")
    assert "[More Information Needed]" not in model.description
    assert model.card_metadata["license"] == "apache-2.0"
    assert model.card_metadata["datasets"] == ["acme/loan-applications"]
    results = model.card_metadata["model-index"][0]["results"][0]
    assert results["metrics"][0] == {"type": "roc_auc", "value": 0.87}
    # Fields the card does not speak of keep their values.
    assert model.capabilities == CARD["capabilities"]
    assert "intended_use" in body["changed"] and "card_metadata" in body["changed"]
    unmapped = {u["source"]: u["reason"] for u in body["unmapped"]}
    assert "lineage" in unmapped["section 'Training Data'"]
    assert "section 'Model Examination [optional]'" not in unmapped  # placeholders only
    event = AuditEvent.objects.filter(action="model.card_imported").get()
    assert event.object_id == str(model.pk)
    assert event.after["unmapped"] == body["unmapped"]


def test_export_then_import_gives_the_same_fields(client_for, owner, model):
    client = client_for(owner)
    post_card(client, "loan-default", hub_card())
    model.refresh_from_db()
    before = {name: getattr(model, name) for name in (*MLModel.CARD_FIELDS, "description")}
    before_metadata = dict(model.card_metadata)

    exported = client.get("/api/models/loan-default/card?format=huggingface")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/markdown")
    text = exported.content.decode()
    card = ModelCard(text)  # the library reads it back
    assert card.data.license == "apache-2.0"
    assert card.data.eval_results[0].metric_value == 0.87

    MLModel.objects.filter(pk=model.pk).update(
        **dict.fromkeys(MLModel.CARD_FIELDS, ""), card_metadata={}
    )
    answer = post_card(client, "loan-default", text)
    assert answer.status_code == 200, answer.content
    assert answer.json()["unmapped"] == []
    model.refresh_from_db()
    assert {name: getattr(model, name) for name in before} == before
    assert model.card_metadata == before_metadata
    # A second import of the same card changes nothing.
    again = post_card(client, "loan-default", text).json()
    assert again["changed"] == []
    assert AuditEvent.objects.filter(action="model.card_exported").count() == 1


def test_dry_run_reports_and_writes_nothing(client_for, owner, model):
    answer = post_card(client_for(owner), "loan-default", hub_card(), "?dry_run=true")
    assert answer.status_code == 200
    assert answer.json()["dry_run"] is True and "intended_use" in answer.json()["changed"]
    model.refresh_from_db()
    assert model.intended_use == CARD["intended_use"]
    assert not AuditEvent.objects.filter(action="model.card_imported").exists()


def test_unmappable_and_bad_cards_say_what_went_wrong(client_for, owner, model):
    client = client_for(owner)
    broken = "---\nlicense: [unclosed\n---\n# Model\n"
    answer = post_card(client, "loan-default", broken)
    assert answer.status_code == 400
    assert "card" in answer.json()["fields"]
    assert post_card(client, "loan-default", "   ").status_code == 400
    assert post_card(client, "loan-default", "x", "?dry_run=maybe").json()["fields"] == {
        "dry_run": ["must be true or false"]
    }
    odd = "---\nwidget: [{text: hi}]\n---\n# Model\n\n## Glossary\n\nA term.\n"
    body = post_card(client, "loan-default", odd).json()
    assert {u["source"] for u in body["unmapped"]} == {"metadata widget", "section 'Glossary'"}
    model.refresh_from_db()
    assert model.intended_use == CARD["intended_use"]  # nothing imported before is lost
    too_long = "# M\n\n## Model Card Contact\n\n" + "x" * 300 + "\n"
    body = post_card(client, "loan-default", too_long).json()
    assert body["unmapped"][0]["reason"].startswith("longer than")
    model.refresh_from_db()
    assert model.contact == CARD["contact"]


def test_only_who_may_change_the_model_imports(client_for, auditor, outsider, model):
    assert post_card(client_for(auditor), "loan-default", hub_card()).status_code == 403
    assert post_card(client_for(outsider), "loan-default", hub_card()).status_code == 404
    assert client_for(outsider).get("/api/models/loan-default/card").status_code == 404
    exported = client_for(auditor).get("/api/models/loan-default/card")
    assert exported.status_code == 200
    assert client_for(auditor).get("/api/models/loan-default/card?format=x").status_code == 400
    model.refresh_from_db()
    assert model.card_metadata == {}


@pytest.mark.parametrize("heading", ["Intended Use", "Uses", "Direct Use"])
def test_intended_use_headings(client_for, owner, model, heading):
    text = f"# loan-default\n\n## {heading}\n\nScoring.\n"
    assert post_card(client_for(owner), "loan-default", text).status_code == 200
    model.refresh_from_db()
    assert model.intended_use == "Scoring."


def test_the_cli_imports_a_readme_from_ci(live_server, tmp_path, owner, model):
    """``govreg card --model loan-default README.md`` against a running server."""
    readme = tmp_path / "README.md"
    readme.write_text(hub_card())
    _, token = issue_token(owner, name="ci")
    env = {**os.environ, "GOVREG_URL": live_server.url, "GOVREG_TOKEN": token}
    cli = str(Path(sys.executable).with_name("govreg"))
    dry = subprocess.run(
        [cli, "card", "--model", "loan-default", str(readme), "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert "would change" in dry.stdout and "intended_use" in dry.stdout
    done = subprocess.run(
        [cli, "card", "--model", "loan-default", str(readme)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "not mapped: section 'Training Data'" in done.stdout
    model.refresh_from_db()
    assert model.intended_use == "Rank loan applications by the probability of default."
    missing = subprocess.run(
        [cli, "card", "--model", "no-such-model", str(readme)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 3 and "404" in missing.stderr
