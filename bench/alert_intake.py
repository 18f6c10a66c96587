"""Alertmanager intake under an alert storm, and the escalation sweep, against baselines
measured in the same run.

How to run (PostgreSQL on 127.0.0.1:5432, trust auth; gunicorn from the venv):
    .venv/bin/python bench/alert_intake.py [--storm 1000] [--rounds 2] [--workers 3]
        [--senders 2] [--seconds 3] [--sweep 300]

It creates a scratch database `bench_playbooks`, migrates it, and builds one
team's model with two versions (v2 live in production after v1), a risk, a
threshold on the production deployment (metric `psi`, gt, warning 0.1, critical
0.25) and the team's playbook with a two-level escalation chain, plus a pipeline
token and the model owner's token. It serves govreg with gunicorn (`--workers`
sync workers, DEBUG off, eager Celery as in the embedded default, so a deferred
triage still runs inside the request's worker; dummy mail backend) on 127.0.0.1.

The concurrent writer is another client: the model's owner editing the model's
description (PATCH /api/models/{id}/, an audited write that needs the audit
chain's lock), one request after the other for as long as the scenario lasts.
Interleaved rounds, after a warm-up, each:

  0. baseline: the writer alone for `--seconds`;
  1. one payload: POST /api/signals/alertmanager with `--storm` alerts of the
     model's metric (new fingerprints every round; values cycling critical, benign,
     questionable: stored in one insert, answered 202, triaged in short
     transactions; every alert joins the round's incident);
  2. many payloads: `--storm` payloads of one alert each from `--senders` client
     threads (each stored, triaged in the request, answered 200).

Then, without the writer, A B rounds of `--critical` calls each: GET /api/me/ (the
API's floor: token authentication) against one payload of one critical alert that
opens an incident (the open incident is closed between calls, untimed); prints the
p95 ratio.

Reported: the writer's worst and p95 latency during each scenario against its
worst and p95 alone (ratio of worst to worst), the storm's duration and alerts
per second. Payloads: Alertmanager v4 as Alertmanager sends it (about 600 bytes
per alert). Every HTTP call opens a new connection (no keep-alive, so no
delayed-ACK artefacts).

Then the escalation sweep (the beat task, in this process): `--sweep` open
incidents whose level 1 ran out, escalated by `playbooks.escalate_incidents`,
against a baseline bulk `UPDATE ... SET escalation_level = 2` of as many rows,
A B A B. Prints a one-line summary last and drops the database.
"""

import argparse
import json
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import harness
import requests

DB = "bench_playbooks"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SERVER_ENV = {
    "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    # the chain's second level is a group of no team: shared by setting, as in production
    "GOVREG_SHARED_ESCALATION_GROUPS": "oncall-leads",
}


def setup() -> dict:
    """Migrate the scratch database and build the monitored model; return the pipeline's
    and the owner's tokens and the model's id."""
    harness.recreate_database(DB)
    harness.setup_django(DB, **SERVER_ENV)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.services import issue_token
    from playbooks.models import Playbook
    from playbooks.services.playbooks import save_playbook
    from registry.choices import RequestOutcome, RequestStatus
    from registry.models import DeploymentRequest, Environment, ModelVersion
    from registry.services import deploy, register_model
    from risk.models import Threshold
    from risk.services import create_risk

    team = Group.objects.create(name="credit-risk")
    leads = Group.objects.create(name="oncall-leads")
    users = get_user_model().objects
    owner = users.create(username="olivia", email="olivia@example.com")
    owner.groups.add(team)
    users.create(username="lena", email="lena@example.com").groups.add(leads)
    pipeline = users.create(username="ci-bot")
    pipeline.groups.add(team, Group.objects.get(name="pipeline"))
    model = register_model(
        name="loan-default", team=team, risk_tier="high", description="Loan default"
    )
    versions = [
        ModelVersion.objects.create(
            model=model,
            version=label,
            artifact_uri=f"s3://models/loan-default/{label}",
            artifact_digest="sha256:" + label * 64,
        )
        for label in ("1", "2")
    ]
    production = Environment.objects.get(name="production")

    def ship(version, now):
        """Production takes a version through an approved request (the gate's record)."""
        request = DeploymentRequest.objects.create(
            model_version=version,
            environment=production,
            requested_by=owner,
            status=RequestStatus.APPROVED,
            decided_at=now,
            fingerprint="0" * 64,
        )
        done = deploy(version, production, owner, deployment_request=request, now=now)
        DeploymentRequest.objects.filter(pk=request.pk).update(
            outcome=RequestOutcome.DEPLOYED, deployment=done, reported_at=done.deployed_at
        )
        return done

    ship(versions[0], T0 - timedelta(days=20))
    live = ship(versions[1], T0 - timedelta(days=2))
    risk = create_risk(
        team=team,
        owner=owner,
        title="Score drift",
        category="data-drift",
        hypothesis="applicant mix shifts",
        inherent_likelihood=4,
        inherent_impact=4,
        residual_likelihood=3,
        residual_impact=3,
        appetite="medium",
    )
    threshold = Threshold.objects.create(
        risk=risk,
        deployment=live,
        metric="psi",
        comparator="gt",
        warning_value=0.1,
        critical_value=0.25,
        hypothesis="PSI above 0.25 means the population moved",
    )
    save_playbook(
        Playbook(
            team=team,
            name="drift-response",
            risk_category="data-drift",
            steps=[
                {"kind": "containment", "text": "Roll back."},
                {"kind": "investigation", "text": "Compare inputs."},
            ],
            escalation_chain=[
                {"group": "credit-risk", "minutes": 15},
                {"group": "oncall-leads", "minutes": 30},
            ],
        ),
        thresholds=[threshold],
    )
    return {
        "pipeline": issue_token(pipeline, name="bench")[1],
        "owner": issue_token(owner, name="bench-writer")[1],
        "model": model.pk,
    }


VALUES = ("0.31", "0.05", "0.18")  # critical, benign, questionable against the threshold


def alert(fingerprint: str, value: str, labels: dict) -> dict:
    return {
        "status": "firing",
        "labels": {**labels, "instance": f"scorer-{fingerprint[:6]}:9100"},
        "annotations": {
            "summary": "Prediction drift (PSI) high on loan-default",
            "description": f"PSI of the score distribution is {value} over 1h.",
            "value": value,
        },
        "startsAt": "2026-05-04T08:58:30.123Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=psi%3E0.25",
        "fingerprint": fingerprint,
    }


def payload(alerts: list[tuple[str, str]]) -> dict:
    """One Alertmanager v4 notification carrying ``alerts`` (fingerprint, value)."""
    labels = {
        "alertname": "PredictionDriftHigh",
        "model": "loan-default",
        "environment": "production",
        "metric": "psi",
        "severity": "critical",
        "job": "model-monitor",
    }
    return {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="PredictionDriftHigh"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "govreg",
        "groupLabels": {"alertname": "PredictionDriftHigh"},
        "commonLabels": dict(labels),
        "commonAnnotations": {"summary": "Prediction drift (PSI) high"},
        "externalURL": "http://alertmanager.monitoring:9093",
        "alerts": [alert(fp, value, labels) for fp, value in alerts],
    }


def fresh_alerts(count: int) -> list[tuple[str, str]]:
    return [(uuid.uuid4().hex[:16], VALUES[n % 3]) for n in range(count)]


def sweep(count: int, rounds: int) -> dict:
    """The escalation beat task over ``count`` overdue incidents vs a bulk UPDATE."""
    from django.db import connection

    from playbooks.models import Escalation, Incident, PlaybookVersion
    from playbooks.services import incidents
    from playbooks.tasks import escalate_incidents
    from registry.models import MLModel

    model = MLModel.objects.get(name="loan-default")
    version = PlaybookVersion.objects.get()
    task_ms, bulk_ms = [], []
    for _ in range(rounds):
        Incident.objects.filter(status="open").update(status="closed")
        ids = [
            incidents.open_incident(
                model=model, title=f"sweep {n}", playbook_version=version, now=T0
            ).pk
            for n in range(count)
        ]
        start = time.perf_counter()
        escalated = escalate_incidents.apply(
            kwargs={"now": (T0 + timedelta(minutes=16)).isoformat()}
        ).result
        task_ms.append((time.perf_counter() - start) * 1000)
        assert len(escalated) == count, len(escalated)
        assert Escalation.objects.filter(incident_id__in=ids, level=2).count() == count
        Incident.objects.filter(pk__in=ids).update(escalation_level=1)
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE playbooks_incident SET escalation_level = 2, level_started_at = %s"
                " WHERE id = ANY(%s) AND escalation_level = 1 AND status = 'open'",
                [T0 + timedelta(minutes=16), ids],
            )
            assert cursor.rowcount == count
        bulk_ms.append((time.perf_counter() - start) * 1000)
    return {"task": task_ms, "bulk": bulk_ms}


class Writer:
    """The other client: PATCHes the model's description, one request after the other,
    until ``stop`` is set; keeps each latency (ms)."""

    def __init__(self, url: str, token: str, model_id: int):
        self.url = f"{url}/api/models/{model_id}/"
        self.headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.errors = 0
        self.n = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.n += 1
            start = time.perf_counter()
            try:
                response = requests.patch(
                    self.url,
                    json={"description": f"edit {self.n}"},
                    headers=self.headers,
                    timeout=600,
                )
            except requests.RequestException:
                self.errors += 1
                continue
            ms = (time.perf_counter() - start) * 1000
            if response.status_code == 200:
                self.latencies.append(ms)
            else:
                self.errors += 1

    def during(self, scenario) -> tuple[list[float], float, object]:
        """Run ``scenario()`` while writing; (writer latencies, scenario seconds, result)."""
        self.stop.clear()
        self.latencies = []
        thread = threading.Thread(target=self.run)
        thread.start()
        start = time.perf_counter()
        try:
            result = scenario()
        finally:
            seconds = time.perf_counter() - start
            self.stop.set()
            thread.join()
        return list(self.latencies), seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storm", type=int, default=1000, help="alerts per storm")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--senders", type=int, default=2, help="threads sending 1-alert payloads")
    parser.add_argument("--seconds", type=float, default=3.0, help="writer-alone baseline")
    parser.add_argument("--sweep", type=int, default=300)
    parser.add_argument(
        "--critical", type=int, default=30, help="critical 1-alert payloads per round vs /api/me/"
    )
    args = parser.parse_args()

    tokens = setup()
    server, url = harness.start_govreg(harness.govreg_env(DB, **SERVER_ENV), args.workers)
    headers = {"Authorization": f"Bearer {tokens['pipeline']}", "Connection": "close"}
    writer = Writer(url, tokens["owner"], tokens["model"])
    size = len(json.dumps(payload(fresh_alerts(args.storm))))

    def post(body: dict, expect: int) -> float:
        start = time.perf_counter()
        response = requests.post(
            f"{url}/api/signals/alertmanager", headers=headers, json=body, timeout=1800
        )
        assert response.status_code == expect, response.text[:300]
        assert response.json()["stored"] == len(body["alerts"]), response.text[:300]
        return (time.perf_counter() - start) * 1000

    def baseline():
        time.sleep(args.seconds)  # the writer alone: nothing else happens meanwhile

    def whoami() -> float:
        start = time.perf_counter()
        response = requests.get(f"{url}/api/me/", headers=headers, timeout=60)
        assert response.status_code == 200, response.text[:300]
        return (time.perf_counter() - start) * 1000

    def critical_vs_me() -> tuple[list[float], list[float]]:
        """A B rounds: ``--critical`` GET /api/me/, then as many payloads of one critical
        alert, each opening an incident (the open one is closed first, outside the
        timing); the first round is a warm-up."""
        from playbooks.models import Incident

        me, critical = [], []
        for index in range(args.rounds + 1):
            a = [whoami() for _ in range(args.critical)]
            b = []
            for _ in range(args.critical):
                Incident.objects.filter(status="open").update(status="closed")
                b.append(post(payload([(uuid.uuid4().hex[:16], VALUES[0])]), 200))
                assert Incident.objects.filter(status="open").count() == 1
            if index:
                me += a
                critical += b
        return me, critical

    def one_payload():
        return [post(payload(fresh_alerts(args.storm)), 202)]

    def many_payloads():
        singles = [payload([item]) for item in fresh_alerts(args.storm)]
        chunks = [singles[i :: args.senders] for i in range(args.senders)]
        results: list[list[float]] = [[] for _ in chunks]

        def send(index):
            results[index] = [post(body, 200) for body in chunks[index]]

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(chunks))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [ms for part in results for ms in part]

    scenarios = {
        "writer alone": baseline,
        f"1 payload x {args.storm} alerts": one_payload,
        f"{args.storm} payloads x 1 alert": many_payloads,
    }
    seen = {name: {"writer": [], "worst": [], "seconds": [], "post": []} for name in scenarios}
    try:
        # warm-up: imports, connections, caches, the round's incident
        writer.during(lambda: [post(payload(fresh_alerts(30)), 202) for _ in range(2)])
        for _ in range(args.rounds):
            for name, scenario in scenarios.items():
                latencies, seconds, posts = writer.during(scenario)
                seen[name]["writer"] += latencies
                seen[name]["worst"].append(max(latencies))
                seen[name]["seconds"].append(seconds)
                seen[name]["post"] += posts or []
        errors = writer.errors
        me, critical = critical_vs_me()
    finally:
        harness.stop(server)

    print(
        f"alert_intake: gunicorn {args.workers} sync workers, PostgreSQL, eager Celery, "
        f"new connection per request, {args.rounds} interleaved rounds; storm payload: "
        f"Alertmanager v4, {args.storm} alerts, {size} bytes; {args.senders} sender threads "
        f"for the 1-alert payloads; writer: PATCH /api/models/{{id}}/ back to back; "
        f"writer errors: {errors}"
    )
    base = seen["writer alone"]
    base_worst = max(base["worst"])
    base_p95 = harness.percentile(base["writer"], 95)
    print(f"  {'scenario':<28} {'writer p50':>10} {'p95':>8} {'worst':>8} {'worst ratio':>11}"
          f"  {'storm s':>8} {'alerts/s':>9}  worst per round")  # fmt: skip
    rows = {}
    for name, data in seen.items():
        writes = data["writer"]
        worst = max(data["worst"])
        seconds = statistics.median(data["seconds"])
        rate = "" if name == "writer alone" else f"{args.storm / seconds:9.0f}"
        print(
            f"  {name:<28} {statistics.median(writes):8.1f}ms "
            f"{harness.percentile(writes, 95):6.1f}ms"
            f" {worst:6.0f}ms {worst / base_worst:10.1f}x  {seconds:8.1f} {rate:>9}  "
            + ", ".join(f"{w:.0f}" for w in data["worst"])
        )
        rows[name] = (worst, harness.percentile(writes, 95), seconds)
    singles = seen[f"{args.storm} payloads x 1 alert"]["post"]
    print(
        f"  1-alert payload answer: p50 {statistics.median(singles):.1f} ms, "
        f"p95 {harness.percentile(singles, 95):.1f} ms (n={len(singles)})"
    )

    me_p95, critical_p95 = harness.percentile(me, 95), harness.percentile(critical, 95)
    print(
        f"  1 critical alert opening an incident: p50 {statistics.median(critical):.1f} ms, "
        f"p95 {critical_p95:.1f} ms; GET /api/me/ p50 {statistics.median(me):.1f} ms, "
        f"p95 {me_p95:.1f} ms (n={len(critical)} each, A B rounds); "
        f"p95 ratio {critical_p95 / me_p95:.2f}x"
    )

    result = sweep(args.sweep, args.rounds + 1)
    task = result["task"][1:]  # first round is the warm-up
    bulk = result["bulk"][1:]
    per_incident = statistics.median(task) / args.sweep
    print(
        f"\nescalation sweep: {args.sweep} overdue incidents, {len(task)} rounds after warm-up:"
        f" task {statistics.median(task):.0f} ms (min-max {min(task):.0f}-{max(task):.0f}),"
        f" {per_incident:.2f} ms per incident; bulk UPDATE {statistics.median(bulk):.1f} ms;"
        f" ratio {statistics.median(task) / statistics.median(bulk):.0f}x"
    )
    from django.db import connections

    connections.close_all()
    harness.drop_database(DB)
    one = rows[f"1 payload x {args.storm} alerts"]
    many = rows[f"{args.storm} payloads x 1 alert"]
    print(
        f"alert_intake: concurrent writer worst {one[0]:.0f} ms during 1 payload x "
        f"{args.storm} alerts ({args.storm / one[2]:.0f} alerts/s), {many[0]:.0f} ms during "
        f"{args.storm} payloads x 1 alert ({args.storm / many[2]:.0f} alerts/s); alone "
        f"{base_worst:.0f} ms (ratios {one[0] / base_worst:.1f}x, {many[0] / base_worst:.1f}x;"
        f" p95 {one[1]:.0f}/{many[1]:.0f} vs {base_p95:.0f} ms); escalation sweep "
        f"{per_incident:.2f} ms per incident; 1 critical alert p95 {critical_p95 / me_p95:.2f}x "
        f"GET /api/me/"
    )


if __name__ == "__main__":
    main()
