"""Public model cards: the team asks to publish chosen fields, an approver of the model
decides (the publish-card decision right, not the requester), and /cards/<model> then
shows anyone only the approved text, the evaluation kinds the version in service
passed and the incidents' published notices. Nothing internal leaks: a test reads every
public page and the feedback status page for every internal value the world holds."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from accounts.roles import Role
from audit.models import AuditEvent
from lineage.models import Dataset, DatasetVersion, Namespace
from playbooks.models import IncidentNotice
from playbooks.services import incidents
from playbooks.services.feedback import submit
from registry import cards
from registry.choices import CardStatus
from registry.models import PublicCard
from risk.models import Evaluation
from risk.services import create_risk
from tests.factories import UserFactory
from tests.playbooks.conftest import CARD, T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def approver(team):
    return UserFactory(username="april", email="april@credit.example", groups=[team, Role.APPROVER])


@pytest.fixture
def second_approver(team):
    return UserFactory(username="amos", groups=[team, Role.APPROVER])


def ask(client, fields, name="loan-default"):
    return client.put(f"/api/models/{name}/public-card", fields, format="json")


def test_the_team_asks_and_an_approver_publishes(client_for, owner, approver, model, deployment):
    team = client_for(owner)
    asked = ask(team, {"intended_use": True, "known_limitations": True})
    assert asked.status_code == 200, asked.json()
    assert asked.json()["status"] == CardStatus.PENDING
    assert asked.json()["public"] is False
    assert Client().get("/cards/loan-default").status_code == 404
    # the requester may not approve their own request, even holding the right
    refused = team.post("/api/models/loan-default/public-card/approve", {}, format="json")
    assert refused.status_code == 403
    approved = client_for(approver).post(
        "/api/models/loan-default/public-card/approve", {"comment": "fine"}, format="json"
    )
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert body["status"] == CardStatus.PUBLISHED and body["public"] is True
    assert body["public_url"] == "/cards/loan-default"
    assert set(body["published_fields"]) == {"intended_use", "known_limitations"}
    page = Client().get("/cards/loan-default")
    assert page.status_code == 200
    html = page.content.decode()
    assert CARD["intended_use"] in html and CARD["known_limitations"] in html
    assert CARD["capabilities"] not in html and CARD["out_of_scope_uses"] not in html
    actions = list(
        AuditEvent.objects.filter(object_type="registry.publiccard")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert "card.request" in actions and "card.approve" in actions


def test_a_second_approver_is_needed_when_the_right_says_so(
    owner, approver, second_approver, model
):
    from registry.models import DecisionRight

    DecisionRight.objects.create(
        action="publish-card", model=model, required_approvals=[{"role": "approver", "count": 2}]
    )
    cards.request_publication(model, owner, {"capabilities": True})
    card = cards.approve_publication(model, approver)
    assert card.status == CardStatus.PENDING and not card.is_public
    with pytest.raises(Exception, match="already approved"):
        cards.approve_publication(model, approver)
    card = cards.approve_publication(model, second_approver)
    assert card.status == CardStatus.PUBLISHED


def test_the_public_text_is_the_approved_text(client_for, owner, approver, model, deployment):
    cards.request_publication(model, owner, {"intended_use": True})
    cards.approve_publication(model, approver)
    model.intended_use = "A new, unreviewed sentence."
    model.save()
    assert "unreviewed" not in Client().get("/cards/loan-default").content.decode()
    # asking again keeps the approved text public until the new one is approved
    cards.request_publication(model, owner, {"intended_use": True})
    html = Client().get("/cards/loan-default").content.decode()
    assert CARD["intended_use"] in html and "unreviewed" not in html
    cards.approve_publication(model, approver)
    assert "unreviewed" in Client().get("/cards/loan-default").content.decode()


def test_withdrawn_unknown_and_never_published_cards_are_404(
    client_for, owner, approver, model, deployment
):
    anonymous = Client()
    assert anonymous.get("/cards/loan-default").status_code == 404
    assert anonymous.get("/cards/loan-default.json").status_code == 404
    assert anonymous.get("/cards/no-such-model").status_code == 404
    cards.request_publication(model, owner, {"intended_use": True})
    cards.approve_publication(model, approver)
    assert anonymous.get("/cards/loan-default.json").status_code == 200
    withdrawn = client_for(owner).post(
        "/api/models/loan-default/public-card/withdraw",
        {"reason": "The card is being rewritten."},
        format="json",
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == CardStatus.WITHDRAWN
    assert anonymous.get("/cards/loan-default").status_code == 404
    assert anonymous.get("/cards/loan-default.json").status_code == 404


def test_bad_requests_and_other_teams(client_for, owner, approver, outsider, auditor, model):
    team = client_for(owner)
    nothing = ask(team, {})
    assert nothing.status_code == 400 and "fields" in nothing.json()["fields"]
    model.capabilities = ""
    model.save()
    empty = ask(team, {"capabilities": True})
    assert empty.status_code == 400 and "capabilities" in empty.json()["fields"]
    assert ask(client_for(outsider), {"intended_use": True}).status_code == 404
    assert ask(client_for(auditor), {"intended_use": True}).status_code == 403
    # the approve right is asked first (the team is not an approver), then the state
    assert team.post("/api/models/loan-default/public-card/approve", {}).status_code == 403
    nothing_asked = client_for(approver).post("/api/models/loan-default/public-card/approve", {})
    assert nothing_asked.status_code == 409
    assert Client().put("/api/models/loan-default/public-card", {}).status_code == 401


def test_unacceptable_models_never_publish(client_for, owner, model):
    model.risk_tier = "unacceptable"
    model.save()
    answer = ask(client_for(owner), {"intended_use": True})
    assert answer.status_code == 403
    assert PublicCard.objects.count() == 0


def test_the_json_form_for_embedding(owner, approver, model, deployment, v2):
    for kind, name, outcome in [
        ("adversarial", "prompt-injection suite", "passed"),
        ("edge-case", "thin-file applicants", "passed"),
        ("edge-case", "zero-income applicants", "failed"),
        ("scenario", "recession 2008 replay", "passed"),
    ]:
        Evaluation.objects.create(model_version=v2, kind=kind, name=name, outcome=outcome)
    cards.request_publication(model, owner, {"intended_use": True, "capabilities": True})
    cards.approve_publication(model, approver)
    answer = Client().get("/cards/loan-default.json")
    assert answer["Content-Type"] == "application/json"
    assert answer["Access-Control-Allow-Origin"] == "*"
    body = answer.json()
    assert body["model"] == "loan-default" and body["live_version"] == "2"
    assert [f["field"] for f in body["card"]] == ["intended_use", "capabilities"]
    # edge-case failed its latest zero-income result: only the kinds fully passed
    assert [e["kind"] for e in body["evaluations_passed"]] == ["adversarial", "scenario"]
    assert body["notices"] == []
    assert body["feedback"]["form"] == "/cards/loan-default/feedback"


def test_notices_appear_once_published_and_edits_need_publishing_again(
    client_for, owner, outsider, approver, model, deployment
):
    cards.request_publication(model, owner, {"intended_use": True})
    cards.approve_publication(model, approver)
    incident = incidents.open_incident(model=model, title="Wrong declines", severity="high")
    team = client_for(owner)
    url = f"/api/incidents/{incident.pk}/notice"
    draft = team.put(
        url,
        {
            "title": "Some applications were declined in error",
            "what_is_known": "Between 2 and 4 May some applicants were declined wrongly.",
            "what_was_done": "We rolled back to the previous version.",
            "safeguards": "Every decline is now reviewed by a person.",
        },
        format="json",
    )
    assert draft.status_code == 200, draft.json()
    assert draft.json()["status"] == "draft"
    assert "declined in error" not in Client().get("/cards/loan-default").content.decode()
    assert client_for(outsider).post(f"{url}/publish").status_code == 404
    published = team.post(f"{url}/publish")
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert team.post(f"{url}/publish").status_code == 409
    html = Client().get("/cards/loan-default").content.decode()
    assert "declined in error" in html and "reviewed by a person" in html
    team.put(url, {"title": "Edited", "what_is_known": "Draft words."}, format="json")
    html = Client().get("/cards/loan-default").content.decode()
    assert "Draft words." not in html and "declined in error" not in html
    assert team.put(url, {"title": "x", "what_is_known": ""}, format="json").status_code == 400
    events = AuditEvent.objects.filter(object_type="playbooks.incidentnotice")
    assert {"create", "update", "notice.publish"} <= set(events.values_list("action", flat=True))


def test_nothing_internal_leaks_on_any_public_page(
    client_for, owner, approver, team, model, deployment, v2, settings
):
    """Every public page and the status page, read for every internal value the world
    holds: people, e-mails, the team, the contact, artifacts, datasets and their hashes,
    risks, evaluation names, unpublished card fields and notices."""
    owner.email = "olivia@credit.example"
    owner.save()
    namespace = Namespace.objects.create(name="s3://credit-bureau")
    dataset = Dataset.objects.create(namespace=namespace, name="bureau_extract_2026")
    DatasetVersion.objects.create(dataset=dataset, version="md5:9f2c4e1d77aa0b3c5d6e7f8091a2b3c4")
    risk = create_risk(
        team=team,
        owner=owner,
        title="Thin files are scored as defaults",
        category="data-drift",
        hypothesis="bureau coverage gaps for young applicants",
        inherent_likelihood=3,
        inherent_impact=4,
        residual_likelihood=2,
        residual_impact=3,
        appetite="medium",
    )
    Evaluation.objects.create(
        model_version=v2, kind="adversarial", name="secret-holdout-7", outcome="passed"
    )
    cards.request_publication(model, owner, {"intended_use": True, "known_limitations": True})
    cards.approve_publication(model, approver)
    published = incidents.open_incident(model=model, title="Internal: PSI blew up", severity="high")
    IncidentNotice.objects.create(
        incident=published,
        title="A public notice",
        what_is_known="Some scores were off.",
        status="published",
        published_at=T0,
    )
    hidden = incidents.open_incident(model=model, title="Second internal title", severity="high")
    IncidentNotice.objects.create(
        incident=hidden, title="Unpublished notice", what_is_known="Not for the public yet."
    )
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        report = submit(
            model,
            deployment.environment,
            text="It refused me.",
            category="concern",
            channel="public-form",
        )
    from playbooks.services.feedback import reply

    reply(report.report, owner, text="We are looking into it.")
    anonymous = Client()
    pages = {
        "card": anonymous.get("/cards/loan-default"),
        "json": anonymous.get("/cards/loan-default.json"),
        "status": anonymous.get(f"/feedback/{report.token}"),
    }
    assert all(page.status_code == 200 for page in pages.values())
    internal = [
        owner.username,
        owner.email,
        approver.username,
        approver.email,
        team.name,
        CARD["contact"],
        CARD["capabilities"],
        CARD["out_of_scope_uses"],
        CARD["ethical_considerations"],
        CARD["human_oversight"],
        model.description,
        v2.artifact_uri,
        v2.artifact_digest,
        dataset.name,
        "9f2c4e1d77aa0b3c5d6e7f8091a2b3c4",
        risk.title,
        risk.hypothesis,
        "secret-holdout-7",
        "Internal: PSI blew up",
        "Second internal title",
        "Unpublished notice",
        "Not for the public yet.",
        "high",  # the risk tier and incident severities
    ]
    for name, page in pages.items():
        text = page.content.decode()
        if name == "json":
            text = json.dumps(page.json(), ensure_ascii=False)
        leaked = [value for value in internal if value and value in text]
        assert not leaked, f"{name} page shows {leaked}"
    assert "Some scores were off." in pages["card"].content.decode()
    assert "We are looking into it." in pages["status"].content.decode()


def test_the_public_page_reads_a_bounded_number_of_queries(
    owner, approver, model, deployment, v2, django_assert_max_num_queries
):
    cards.request_publication(model, owner, dict.fromkeys(("intended_use", "capabilities"), True))
    cards.approve_publication(model, approver)
    for index in range(5):
        incident = incidents.open_incident(model=model, title=f"i{index}", severity="high")
        IncidentNotice.objects.create(
            incident=incident,
            title=f"Notice {index}",
            what_is_known="Known.",
            status="published",
            published_at=T0,
        )
        Evaluation.objects.create(model_version=v2, kind="scenario", name=f"s{index}",
                                  outcome="passed")  # fmt: skip
    anonymous = Client()
    with django_assert_max_num_queries(6):
        page = anonymous.get("/cards/loan-default")
    assert page.content.decode().count('<article class="notice">') == 5
    with django_assert_max_num_queries(6):
        assert anonymous.get("/cards/loan-default.json").status_code == 200
