"""A sustained mixed load against gunicorn on PostgreSQL (issue 17): lineage intake, gate
decisions and registry reads at once, with an alert storm (1,000 alerts in a minute),
then the audit chain verified.

How to run (PostgreSQL on 127.0.0.1:5432, trust auth; gunicorn from the venv):
    .venv/bin/python bench/load.py [--duration 300] [--workers 3] [--clients 2]
        [--storm 1000] [--storm-seconds 60]

It creates a scratch database `bench_load`, migrates it and seeds the demo (teams,
models live in production with thresholds and playbooks, lineage, the pipeline
account), issues a pipeline token and serves govreg with gunicorn (`--workers` sync
workers, DEBUG off, eager Celery as in the embedded default, dummy mail backend).

For `--duration` seconds (default 300; `--duration 60` for a quick run) these clients
run at once, each one request after the other, every request on a new connection (no
keep-alive, so no delayed-ACK artefacts):

  - lineage: `--clients` threads POST /api/v1/lineage, one COMPLETE event each (a new
    run of one of 20 jobs, one input and one output dataset of about 700 bytes);
  - gate: `--clients` threads POST /api/deployment-requests/ for loan-default@3 in
    staging with "new": true (every registered check, the fingerprint, the audit
    events), then GET it back;
  - reads: `--clients` threads cycle GET /api/models/, /api/model-versions/?model=...,
    /api/deployments/?environment=production and /api/v1/lineage/... (a model's
    lineage upstream);
  - alerts: one sender posts `--storm` alerts (Alertmanager v4 payloads of 10 alerts,
    the demo model's PSI, critical, benign and questionable values in turn) evenly over
    the first `--storm-seconds` of the run, then stops.

Reported per kind: requests, sustained rate (requests per second over the run),
median, p95 and p99 (ms) and errors (an answer other than the expected status, or a
connection error); the storm's alerts per second; then `manage.py verify_audit` on the
database. Absolute figures only: this is a soak, not a comparison (the per-operation
ratios are bench/gate.py's, bench/lineage_ingest.py's and bench/alert_intake.py's).
The last line sums it up. The database is dropped at the end.
"""

import argparse
import io
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import harness
import requests

DB = "bench_load"


def setup() -> str:
    harness.recreate_database(DB)
    harness.setup_django(DB, EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from accounts.services import issue_token

    call_command("seed_demo", stdout=io.StringIO())
    pipeline = get_user_model().objects.get(username="pipeline")
    return issue_token(pipeline, name="bench-load")[1]


class Kind:
    """Latencies and errors of one kind of request, from any number of threads."""

    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error = ""
        self.lock = threading.Lock()

    def call(self, method: str, url: str, expect: tuple[int, ...], **kwargs):
        start = time.perf_counter()
        try:
            response = requests.request(method, url, timeout=120, **kwargs)
        except requests.RequestException as exc:
            self._error(repr(exc))
            return None
        ms = (time.perf_counter() - start) * 1000
        if response.status_code not in expect:
            self._error(f"{method} {url}: {response.status_code} {response.text[:200]}")
            return None
        with self.lock:
            self.latencies.append(ms)
        return response

    def _error(self, what: str) -> None:
        with self.lock:
            self.errors += 1
            self.first_error = self.first_error or what

    def report(self, seconds: float) -> str:
        n = len(self.latencies)
        if not n:
            return f"  {self.name:<8} no request answered; errors {self.errors}: {self.first_error}"
        return (
            f"  {self.name:<8} {n:6d} requests  {n / seconds:7.1f}/s"
            f"  median {harness.percentile(self.latencies, 50):8.1f} ms"
            f"  p95 {harness.percentile(self.latencies, 95):8.1f} ms"
            f"  p99 {harness.percentile(self.latencies, 99):8.1f} ms"
            f"  max {max(self.latencies):8.1f} ms  errors {self.errors}"
            + (f" (first: {self.first_error})" if self.errors else "")
        )


def lineage_event(index: int) -> dict:
    job = f"load.job_{index % 20}"
    return {
        "eventType": "COMPLETE",
        "eventTime": datetime.now(UTC).isoformat(),
        "producer": "https://example.com/bench-load",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": "bench-load", "name": job, "facets": {}},
        "inputs": [{"namespace": "s3://bench-load", "name": f"raw/{index % 20}", "facets": {}}],
        "outputs": [{"namespace": "s3://bench-load", "name": f"clean/{index % 20}",
                     "facets": {"schema": {"_producer": "bench", "_schemaURL": "bench",
                                           "fields": [{"name": "id", "type": "int"},
                                                      {"name": "amount", "type": "float"}]}}}],
    }  # fmt: skip


def alert_payload(batch: int, size: int) -> dict:
    values = ("0.31", "0.02", "0.15")  # critical, benign, questionable for the demo's PSI
    alerts = []
    for index in range(size):
        alerts.append(
            {
                "status": "firing",
                "fingerprint": f"{batch:08x}{index:08x}",
                "labels": {"alertname": "PredictionDriftHigh", "model": "loan-default",
                           "environment": "production", "metric": "score_psi",
                           "severity": "warning", "instance": f"b{batch}-{index}"},
                "annotations": {"value": values[(batch + index) % 3]},
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
            }
        )  # fmt: skip
    return {"version": "4", "status": "firing", "receiver": "govreg",
            "groupKey": "{}:{alertname=\"PredictionDriftHigh\"}", "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "alerts": alerts}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--storm", type=int, default=1000)
    parser.add_argument("--storm-seconds", type=float, default=60.0)
    args = parser.parse_args()

    print(f"setting up {DB} (migrate, seed_demo)...", file=sys.stderr, flush=True)
    token = setup()
    env = harness.govreg_env(DB, EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
    server, url = harness.start_govreg(env, args.workers, quiet=True)
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    kinds = {name: Kind(name) for name in ("lineage", "gate", "reads", "alerts")}
    stop_at = time.monotonic() + args.duration
    counter = iter(range(10**9))
    counter_lock = threading.Lock()

    def next_index() -> int:
        with counter_lock:
            return next(counter)

    def lineage():
        while time.monotonic() < stop_at:
            kinds["lineage"].call(
                "POST", f"{url}/api/v1/lineage", (201,), headers=headers,
                json=lineage_event(next_index()),
            )  # fmt: skip

    gate_body = {"model": "loan-default", "version": "3", "environment": "staging", "new": True}

    def gate():
        while time.monotonic() < stop_at:
            asked = kinds["gate"].call(
                "POST", f"{url}/api/deployment-requests/", (200, 201), headers=headers,
                json=gate_body,
            )  # fmt: skip
            if asked is not None:
                kinds["gate"].call(
                    "GET", f"{url}/api/deployment-requests/{asked.json()['id']}/", (200,),
                    headers=headers,
                )  # fmt: skip

    reads = [
        "/api/models/",
        "/api/model-versions/?model=loan-default",
        "/api/deployments/?environment=production",
        "/api/models/?team=credit-risk",
    ]

    def read():
        index = 0
        while time.monotonic() < stop_at:
            kinds["reads"].call("GET", url + reads[index % len(reads)], (200,), headers=headers)
            index += 1

    storm_done = {"alerts": 0, "seconds": 0.0}

    def storm():
        size = 10
        batches = max(1, args.storm // size)
        started = time.monotonic()
        for batch in range(batches):
            due = started + batch * args.storm_seconds / batches
            while time.monotonic() < due:  # pace the storm: wait for the batch's slot
                time.sleep(min(0.05, due - time.monotonic()))
            answer = kinds["alerts"].call(
                "POST", f"{url}/api/signals/alertmanager", (200, 202), headers=headers,
                json=alert_payload(batch, size),
            )  # fmt: skip
            if answer is not None:
                storm_done["alerts"] += size
        storm_done["seconds"] = time.monotonic() - started

    threads = [threading.Thread(target=storm)]
    for _ in range(args.clients):
        threads += [threading.Thread(target=f) for f in (lineage, gate, read)]
    print(
        f"running {args.duration:.0f} s: {args.clients} client(s) each of lineage, gate, reads;"
        f" {args.storm} alerts over {args.storm_seconds:.0f} s; gunicorn {args.workers} workers",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    harness.stop(server)

    print(f"bench/load.py: {elapsed:.0f} s on PostgreSQL, gunicorn {args.workers} sync workers")
    for kind in kinds.values():
        print(kind.report(elapsed))
    storm_rate = storm_done["alerts"] / storm_done["seconds"] if storm_done["seconds"] else 0
    print(
        f"  storm    {storm_done['alerts']} alerts in {storm_done['seconds']:.1f} s"
        f" ({storm_rate:.1f} alerts/s)"
    )
    verified = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    print(f"  audit    {(verified.stdout or verified.stderr).strip()} (exit {verified.returncode})")
    errors = sum(kind.errors for kind in kinds.values())
    total = sum(len(kind.latencies) for kind in kinds.values())
    p99 = {name: harness.percentile(kind.latencies, 99) for name, kind in kinds.items()}
    print(
        f"load: {total / elapsed:.1f} req/s for {elapsed:.0f} s, p99 "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in p99.items())
        + f", {errors} errors, audit chain {'verified' if verified.returncode == 0 else 'BROKEN'}"
    )
    harness.drop_database(DB)
    if errors or verified.returncode:
        sys.exit(1)


if __name__ == "__main__":
    main()
