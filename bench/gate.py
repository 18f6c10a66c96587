"""Deployment-gate decisions against a trivial authenticated endpoint, over HTTP.

How to run (PostgreSQL on 127.0.0.1:5432, trust auth):
    .venv/bin/python bench/gate.py [--seconds 3] [--clients 1,8,32] [--workers 4]

It creates a scratch database `bench_gate`, migrates it, makes one team, one
limited-tier model with a complete card and one version whose training data
comes from OpenLineage events (raw data -> feature job -> training run), and a
pipeline token. It then serves govreg with gunicorn (sync workers, DEBUG off) on
127.0.0.1 and, for 1, 8 and 32 concurrent client threads, measures interleaved
A B A B rounds of `--seconds` each after a warm-up:

  A. baseline: GET /api/me/ (token authentication, one small query);
  B. gate decision: POST /api/deployment-requests/ with "new": true (every
     registered check, the fingerprint, the audit events; the open request it
     supersedes) followed by GET /api/deployment-requests/{id}/ (judged again,
     nothing stored).

Every HTTP call uses a new connection (no keep-alive, so no delayed-ACK
artefacts; gunicorn's sync workers close connections anyway). Prints decisions
per second, p50/p95/p99 of POST, GET and of /api/me/, the p95 ratios, the
min-max spread of the per-round medians, and a one-line summary; drops the
database at the end.
"""

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import harness
import requests

DB = "bench_gate"
CARD = {
    "intended_use": "Predict churn of retail customers.",
    "out_of_scope_uses": "Credit decisions.",
    "known_limitations": "New customers have little history.",
    "capabilities": "Churn probability within 90 days.",
    "ethical_considerations": "No protected attributes used.",
    "human_oversight": "Retention offers are reviewed weekly.",
    "contact": "growth@example.com",
}


def setup() -> str:
    """Migrate the scratch database and create the story; return the pipeline token."""
    harness.recreate_database(DB)
    harness.setup_django(DB)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.services import issue_token
    from lineage.services import ingest_event
    from registry import services

    team = Group.objects.create(name="growth")
    user = get_user_model().objects.create(username="ci-growth")
    user.groups.add(team, Group.objects.get(name="pipeline"))
    t0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)

    def ds(name, digest):
        return {
            "namespace": "s3://lake",
            "name": name,
            "facets": {"version": {"_producer": "bench", "_schemaURL": "bench",
                                   "datasetVersion": f"md5:{digest * 32}"}},
        }  # fmt: skip

    def event(job, inputs, outputs, minutes, run_id=None):
        run_id = run_id or str(uuid.uuid4())
        ingest_event(
            {
                "eventType": "COMPLETE",
                "eventTime": (t0 + timedelta(minutes=minutes)).isoformat(),
                "producer": "https://example.com/bench",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "run": {"runId": run_id, "facets": {}},
                "job": {"namespace": "pipelines", "name": job, "facets": {}},
                "inputs": inputs,
                "outputs": outputs,
            }
        )
        return run_id

    event("churn_features", [ds("crm/customers", "a"), ds("crm/events", "b")],
          [ds("features/churn", "c")], 1)  # fmt: skip
    run_id = event("churn_train", [ds("features/churn", "c"), ds("labels/churn", "d")], [], 5)
    model = services.register_model(
        name="churn", team=team, risk_tier="limited", description="Churn model", **CARD
    )
    services.register_version(
        model=model,
        version="1",
        artifact_uri="s3://models/churn/1/model.pkl",
        artifact_digest="sha256:" + "e" * 64,
        training_run=run_id,
        registered_by=None,
    )
    return issue_token(user, name="bench")[1]


def timed(method, url, **kwargs):
    start = time.perf_counter()
    response = requests.request(method, url, timeout=60, **kwargs)
    return response, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    levels = [int(x) for x in args.clients.split(",")]

    token = setup()
    server, url = harness.start_govreg(harness.govreg_env(DB), args.workers)
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    # "new": each ask makes a request (superseding the open one) rather than getting the
    # open one back, so every POST is a full first judgement and answers 201.
    body = {"model": "churn", "version": "1", "environment": "production", "new": True,
            "pipeline_run_url": "https://ci.example.com/p/1", "commit": "abc1234"}  # fmt: skip

    def me():
        response, ms = timed("GET", f"{url}/api/me/", headers=headers)
        assert response.status_code == 200, response.text[:200]
        return {"me": ms}

    def decision():
        response, post_ms = timed(
            "POST", f"{url}/api/deployment-requests/", headers=headers, json=body
        )
        assert response.status_code == 201, response.text[:200]
        request_id = response.json()["id"]
        response, get_ms = timed(
            "GET", f"{url}/api/deployment-requests/{request_id}/", headers=headers
        )
        assert response.status_code == 200, response.text[:200]
        return {"post": post_ms, "get": get_ms, "decision": post_ms + get_ms}

    summary = []
    try:
        harness.Load(me, 2, 1).run()  # warm-up: imports, connections, caches
        harness.Load(decision, 2, 1).run()
        print(
            f"gate bench: gunicorn {args.workers} sync workers, PostgreSQL, new connection per "
            f"request, {args.rounds}x A/B rounds of {args.seconds:g}s per level; payload: "
            "limited-tier model, 4 upstream dataset versions, production (1 approver)"
        )
        print(f"registered gate checks: {registered_check_names()}")
        for clients in levels:
            samples: dict[str, list[float]] = {}
            medians: dict[str, list[float]] = {}
            decisions = baseline_calls = 0
            decision_time = baseline_time = 0.0
            errors = 0
            for _ in range(args.rounds):
                for call, is_gate in ((me, False), (decision, True)):
                    load = harness.Load(call, clients, args.seconds).run()
                    errors += load.errors
                    for name, values in load.samples.items():
                        samples.setdefault(name, []).extend(values)
                        medians.setdefault(name, []).append(statistics.median(values))
                    if is_gate:
                        decisions += load.done
                        decision_time += load.elapsed
                    else:
                        baseline_calls += load.done
                        baseline_time += load.elapsed
            print(f"\n-- {clients} concurrent client(s)")
            print(f"   decisions/s {decisions / decision_time:8.1f}   "
                  f"/api/me/ calls/s {baseline_calls / baseline_time:8.1f}   "
                  f"errors {errors}")  # fmt: skip
            for name in ("me", "post", "get", "decision"):
                values = samples.get(name, [])
                spread = medians.get(name, [])
                p50, p95, p99 = (harness.percentile(values, q) for q in (50, 95, 99))
                print(
                    f"   {name:9s} n={len(values):5d}  p50 {p50:7.1f} ms  "
                    f"p95 {p95:7.1f} ms  p99 {p99:7.1f} ms  "
                    f"(round medians {min(spread):.1f}-{max(spread):.1f})"
                )
            me_p95 = harness.percentile(samples["me"], 95)
            ratios = {
                name: harness.percentile(samples[name], 95) / me_p95
                for name in ("post", "get", "decision")
            }
            print(
                f"   p95 ratio vs /api/me/: POST {ratios['post']:.2f}x  GET {ratios['get']:.2f}x  "
                f"POST+GET {ratios['decision']:.2f}x"
            )
            summary.append(
                f"{clients}c POST p95 {harness.percentile(samples['post'], 95):.1f} ms "
                f"(me {me_p95:.1f} ms, {ratios['post']:.1f}x), GET {ratios['get']:.1f}x, "
                f"{decisions / decision_time:.0f} decisions/s"
            )
    finally:
        harness.stop(server)
        from django.db import connections

        connections.close_all()
        harness.drop_database(DB)
    print("\ngate: " + "; ".join(summary))


def registered_check_names() -> str:
    from registry.gate.checks import registered_checks

    return ", ".join(name for name, _ in registered_checks())


if __name__ == "__main__":
    main()
