"""Alertmanager intake and the escalation sweep, against baselines measured in the same run.

How to run (PostgreSQL on 127.0.0.1:5432, trust auth; gunicorn from the venv):
    .venv/bin/python bench/alert_intake.py [--seconds 3] [--clients 1,4] [--workers 2]
        [--rounds 2] [--sweep 300]

It creates a scratch database `bench_playbooks`, migrates it, and builds one
team's model with two versions (v2 live in production after v1), a risk, a
threshold on the production deployment (metric `psi`, gt, warning 0.1, critical
0.25) and the team's playbook with a two-level escalation chain, plus a pipeline
token. It serves govreg with gunicorn (sync workers, DEBUG off, eager Celery,
dummy mail backend, no webhook URL) on 127.0.0.1 and measures, for each client
level, interleaved rounds A B C D of `--seconds` each after a warm-up:

  A. baseline: GET /api/me/ (token authentication, one small query);
  B. repeat:   POST /api/signals/alertmanager, the same firing alert again (stored,
               triaged critical, joins its incident's timeline);
  C. critical: POST /api/signals/alertmanager, a new fingerprint each time with
               value 0.31 (stored, triaged, opens an incident, starts its
               playbook, notifies escalation level 1, audit events);
  D. benign:   POST /api/signals/alertmanager, a new fingerprint, value 0.05
               (stored and triaged only).

Payload: one Alertmanager v4 notification with one alert (about 1.4 kB of
JSON), as Alertmanager sends it per group. Every HTTP call uses a new
connection (no keep-alive, so no delayed-ACK artefacts). Prints p50/p95/p99 per
kind, notifications per second, the p50 ratio against the baseline and the
min-max spread of per-round medians.

Then the escalation sweep (the beat task, in this process): `--sweep` open
incidents whose level 1 ran out, escalated by `playbooks.escalate_incidents`
(conditional UPDATE, escalation row, timeline, audit event each), against a
baseline bulk `UPDATE ... SET escalation_level = 2` of as many rows, A B A B.
Prints a one-line summary last and drops the database.
"""

import argparse
import copy
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import harness
import requests

DB = "bench_playbooks"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SERVER_ENV = {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}


def setup() -> str:
    """Migrate the scratch database and build the monitored model; return the token."""
    harness.recreate_database(DB)
    harness.setup_django(DB, **SERVER_ENV)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.services import issue_token
    from playbooks.models import Playbook
    from playbooks.services.playbooks import save_playbook
    from registry.models import Environment, ModelVersion
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
    deploy(versions[0], production, owner, now=T0 - timedelta(days=20))
    live = deploy(versions[1], production, owner, now=T0 - timedelta(days=2))
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
    return issue_token(pipeline, name="bench")[1]


def payload(fingerprint: str, value: str) -> dict:
    labels = {
        "alertname": "PredictionDriftHigh",
        "model": "loan-default",
        "environment": "production",
        "metric": "psi",
        "severity": "critical",
        "instance": "scorer-0:9100",
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
        "commonAnnotations": {"summary": "Prediction drift (PSI) high", "value": value},
        "externalURL": "http://alertmanager.monitoring:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": dict(labels),
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
        ],
    }


def run_load(call, clients: int, seconds: float) -> tuple[list[float], int, float]:
    """``call`` from ``clients`` threads for ``seconds``: (latencies ms, errors, elapsed)."""
    load = harness.Load(lambda: {"ms": call()}, clients, seconds).run()
    return load.samples.get("ms", []), load.errors, load.elapsed


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sweep", type=int, default=300)
    args = parser.parse_args()
    levels = [int(x) for x in args.clients.split(",")]

    token = setup()
    server, url = harness.start_govreg(harness.govreg_env(DB, **SERVER_ENV), args.workers)
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    repeat_body = payload("c6a2bd1f0e0a7d4b", "0.31")
    size = len(requests.models.complexjson.dumps(repeat_body))

    def me():
        start = time.perf_counter()
        response = requests.get(f"{url}/api/me/", headers=headers, timeout=60)
        assert response.status_code == 200, response.text[:200]
        return (time.perf_counter() - start) * 1000

    def post(body, expect):
        start = time.perf_counter()
        response = requests.post(
            f"{url}/api/signals/alertmanager", headers=headers, json=body, timeout=60
        )
        assert response.status_code == 200, response.text[:200]
        assert response.json()["signals"][0]["triage"] == expect, response.text[:200]
        return (time.perf_counter() - start) * 1000

    def repeat():
        return post(repeat_body, "critical")

    def critical():
        return post(payload(uuid.uuid4().hex[:16], "0.31"), "critical")

    def benign():
        body = copy.deepcopy(payload(uuid.uuid4().hex[:16], "0.05"))
        return post(body, "benign")

    kinds = {"baseline /api/me/": me, "repeat": repeat, "critical": critical, "benign": benign}
    summary = {}
    try:
        for call in kinds.values():  # warm-up: imports, connections, caches
            run_load(call, 2, 1)
        print(
            f"alert_intake: gunicorn {args.workers} sync workers, PostgreSQL, eager Celery, "
            f"new connection per request, {args.rounds}x A/B/C/D rounds of {args.seconds:g}s; "
            f"payload: Alertmanager v4, 1 alert, {size} bytes"
        )
        for clients in levels:
            samples = {name: [] for name in kinds}
            medians = {name: [] for name in kinds}
            counts = {name: 0 for name in kinds}
            elapsed = {name: 0.0 for name in kinds}
            errors = 0
            for _ in range(args.rounds):
                for name, call in kinds.items():
                    values, failed, seconds = run_load(call, clients, args.seconds)
                    errors += failed
                    samples[name].extend(values)
                    medians[name].append(statistics.median(values))
                    counts[name] += len(values)
                    elapsed[name] += seconds
            base = statistics.median(samples["baseline /api/me/"])
            print(f"\n{clients} client(s), errors: {errors}")
            print(f"  {'kind':<18} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8}"
                  f" {'p50 ratio':>9}  round medians min-max")  # fmt: skip
            for name in kinds:
                values = samples[name]
                p50 = statistics.median(values)
                print(
                    f"  {name:<18} {p50:8.1f} {harness.percentile(values, 95):8.1f} "
                    f"{harness.percentile(values, 99):8.1f} {counts[name] / elapsed[name]:8.1f} "
                    f"{p50 / base:8.1f}x  {min(medians[name]):.1f}-{max(medians[name]):.1f}"
                )
            summary[clients] = (
                statistics.median(samples["critical"]),
                harness.percentile(samples["critical"], 95),
                counts["critical"] / elapsed["critical"],
                statistics.median(samples["critical"]) / base,
                base,
            )
    finally:
        harness.stop(server)

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
    one = summary[levels[0]]
    print(
        f"alert_intake: critical alert p50 {one[0]:.1f} ms, p95 {one[1]:.1f} ms, "
        f"{one[2]:.1f}/s at {levels[0]} client(s) (GET /api/me/ p50 {one[4]:.1f} ms, "
        f"ratio {one[3]:.1f}x); escalation sweep {per_incident:.2f} ms per incident"
    )


if __name__ == "__main__":
    main()
