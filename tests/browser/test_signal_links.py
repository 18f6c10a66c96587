"""A Grafana alert sent to the live server opens an incident; the engineer finds the
signal on the incident page with Grafana's dashboard, panel and silence links, and the
page passes axe."""

import json
import urllib.request

from playwright.sync_api import expect

from accounts.services import issue_token
from playbooks.models import Signal
from registry.models import MLModel
from tests.browser.conftest import check_axe, shot, sign_in
from tests.factories import UserFactory


def grafana_alert() -> dict:
    return {
        "receiver": "govreg",
        "status": "firing",
        "orgId": 1,
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "ScorePSIHigh",
                    "model": "loan-default",
                    "environment": "production",
                    "metric": "score_psi",
                    "value_ref": "B",
                },
                "annotations": {"summary": "Score PSI high"},
                "startsAt": "2026-05-04T09:10:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example.com/alerting/grafana/psi/view",
                "fingerprint": "5b2f0c1de7a94a10",
                "silenceURL": "https://grafana.example.com/alerting/silence/new",
                "dashboardURL": "https://grafana.example.com/d/psi",
                "panelURL": "https://grafana.example.com/d/psi?viewPanel=2",
                "values": {"B": 0.33, "C": 1},
            }
        ],
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "https://grafana.example.com/",
        "version": "1",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "title": "[FIRING:1] ScorePSIHigh",
        "state": "alerting",
        "message": "",
    }


def test_the_engineer_follows_a_grafana_alert_to_its_dashboard(demo_server, page):
    team = MLModel.objects.get(name="loan-default").team
    sender = UserFactory(username="grafana-bot", groups=[team, "pipeline"])
    _, token = issue_token(sender, name="grafana")
    request = urllib.request.Request(
        f"{demo_server}/api/signals/grafana",
        data=json.dumps(grafana_alert()).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - live server
        outcome = json.load(answer)["signals"][0]
    assert outcome["triage"] == "critical"
    assert Signal.objects.get(pk=outcome["id"]).source == "grafana"

    sign_in(page, demo_server, "engineer")
    page.goto(f"{demo_server}/incidents/{outcome['incident']}/")
    signals = page.get_by_role("region", name="Signals")
    expect(signals).to_contain_text("Grafana alerting")
    expect(signals.get_by_role("link", name="dashboard")).to_have_attribute(
        "href", "https://grafana.example.com/d/psi"
    )
    expect(signals.get_by_role("link", name="silence")).to_be_visible()
    check_axe(page)
    shot(page, "incident-grafana-signal", full_page=True)
