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
  B. gate decision: POST /api/deployment-requests/ (every registered check,
     the fingerprint, the audit events) followed by GET /api/deployment-requests/{id}/
     (re-judged: checks and fingerprint again).

Every HTTP call uses a new connection (no keep-alive, so no delayed-ACK
artefacts; gunicorn's sync workers close connections anyway). Prints decisions
per second, p50/p95/p99 of POST, GET and of /api/me/, the p95 ratios, the
min-max spread of the per-round medians, and a one-line summary; drops the
database at the end.
"""

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
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


def admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env() -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{DB}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "GOVREG_SSL_REDIRECT": "false",
        "GOVREG_LOG_LEVEL": "WARNING",
    }


def setup() -> str:
    """Migrate the scratch database and create the story; return the pipeline token."""
    admin(f"DROP DATABASE IF EXISTS {DB}")
    admin(f"CREATE DATABASE {DB}")
    os.environ.update(server_env())
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
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


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env(),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


class Load:
    """Run ``call`` from ``clients`` threads for ``seconds``; collect latencies (ms)."""

    def __init__(self, call, clients: int, seconds: float):
        self.call, self.clients, self.seconds = call, clients, seconds
        self.samples: dict[str, list[float]] = {}
        self.done = 0
        self.errors = 0
        self.lock = threading.Lock()

    def run(self) -> "Load":
        stop = time.monotonic() + self.seconds
        started = time.monotonic()

        def worker():
            while time.monotonic() < stop:
                try:
                    timings = self.call()
                except (requests.RequestException, AssertionError):
                    with self.lock:
                        self.errors += 1
                    continue
                with self.lock:
                    self.done += 1
                    for name, ms in timings.items():
                        self.samples.setdefault(name, []).append(ms)

        threads = [threading.Thread(target=worker) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.elapsed = time.monotonic() - started
        return self


def timed(method, url, **kwargs):
    start = time.perf_counter()
    response = requests.request(method, url, timeout=60, **kwargs)
    return response, (time.perf_counter() - start) * 1000


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    levels = [int(x) for x in args.clients.split(",")]

    token = setup()
    server, url = start_server(args.workers)
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    body = {"model": "churn", "version": "1", "environment": "production",
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
        Load(me, 2, 1).run()  # warm-up: imports, connections, caches
        Load(decision, 2, 1).run()
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
                    load = Load(call, clients, args.seconds).run()
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
                print(
                    f"   {name:9s} n={len(values):5d}  p50 {percentile(values, 50):7.1f} ms  "
                    f"p95 {percentile(values, 95):7.1f} ms  p99 {percentile(values, 99):7.1f} ms  "
                    f"(round medians {min(spread):.1f}-{max(spread):.1f})"
                )
            me_p95 = percentile(samples["me"], 95)
            ratios = {
                name: percentile(samples[name], 95) / me_p95 for name in ("post", "get", "decision")
            }
            print(
                f"   p95 ratio vs /api/me/: POST {ratios['post']:.2f}x  GET {ratios['get']:.2f}x  "
                f"POST+GET {ratios['decision']:.2f}x"
            )
            summary.append(
                f"{clients}c POST p95 {percentile(samples['post'], 95):.1f} ms "
                f"(me {me_p95:.1f} ms, {ratios['post']:.1f}x), GET {ratios['get']:.1f}x, "
                f"{decisions / decision_time:.0f} decisions/s"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    print("\ngate: " + "; ".join(summary))


def registered_check_names() -> str:
    from registry.gate.checks import registered_checks

    return ", ".join(name for name, _ in registered_checks())


if __name__ == "__main__":
    main()
