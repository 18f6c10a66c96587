"""OpenLineage intake throughput: POST /api/v1/lineage and /batch versus a raw jsonb INSERT.

How to run (PostgreSQL on 127.0.0.1:5432, user postgres; gunicorn from the venv):

    .venv/bin/python bench/lineage_ingest.py
    .venv/bin/python bench/lineage_ingest.py --events 1000 --batch-size 50 --workers 2

It creates the database ``bench_lineage_ingest``, migrates it, issues a token
to a pipeline user, starts govreg under gunicorn on a free 127.0.0.1 port
(sync workers, DEBUG off) and sends a realistic RunEvent (3 inputs, 2 outputs,
schema facets on each, about 4 KB) with a fresh runId each time:

- single: one event per POST /api/v1/lineage;
- batch: ``--batch-size`` events per POST /api/v1/lineage/batch.

With ``--projection queued`` (the default, as production runs with a broker) the
server has Redis (``--redis``) and one ``celery worker`` projects the queue; after
each govreg round the script waits for the queue to empty (not counted in the
intake's rate) and prints the worker's projection rate, first post to queue empty.
``--projection inline`` projects in the request, without a worker.

The baseline, in the same run, on the same PostgreSQL: a plain psycopg INSERT
of the same JSON into a bare ``jsonb`` table, one transaction per event (to
compare with single) and one per batch (to compare with batch); and, for the
latency of one event, ``GET /api/me/`` with the same token (the cheapest
authenticated answer: its p50 against single's). Rounds are interleaved
(govreg single, raw single, govreg batch, raw batch, /api/me/) and the first
round is a discarded warm-up. The client is sequential (one request at a
time) and opens a new connection per request: gunicorn's sync workers close
every connection, so there is no keep-alive artefact. The database is dropped
at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness
import psycopg
import requests
from psycopg.types.json import Jsonb

DB_NAME = "bench_lineage_ingest"
PRODUCER = "https://example.com/bench/lineage_ingest"
FACET_URL = (
    "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=600, help="events per measured round")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (plus 1 warm-up)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--projection",
        choices=("queued", "inline"),
        default="queued",
        help="queued (production: Redis and a celery worker project) or inline (in the request)",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="broker (queued)")
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


def start_worker(env: dict) -> subprocess.Popen:
    """One celery worker process (prefork, concurrency 1) for the queued projection."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "config",
            "worker",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=harness.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def schema(prefix: str, columns: int) -> dict:
    return {
        "_producer": PRODUCER,
        "_schemaURL": FACET_URL,
        "fields": [
            {
                "name": f"{prefix}_column_{i}",
                "type": "VARCHAR",
                "description": f"{prefix} field {i}",
            }
            for i in range(columns)
        ],
    }


def make_event(sequence: int) -> dict:
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=sequence)
    day = sequence // 100
    return {
        "eventType": "COMPLETE",
        "eventTime": moment.isoformat(),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": "bench-scheduler", "name": f"etl.job_{sequence % 40}", "facets": {}},
        "inputs": [
            {
                "namespace": "postgres://warehouse:5432",
                "name": f"raw.table_{(sequence + k) % 120}",
                "facets": {"schema": schema(f"raw{(sequence + k) % 120}", 6)},
            }
            for k in range(3)
        ],
        "outputs": [
            {
                "namespace": "postgres://warehouse:5432",
                "name": f"mart.table_{sequence % 40}_{k}",
                "facets": {
                    "schema": schema(f"out{k}", 6),
                    "version": {
                        "_producer": PRODUCER,
                        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
                        "DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
                        "datasetVersion": f"day-{day}",
                    },
                },
            }
            for k in range(2)
        ],
    }


def prepare(env: dict) -> str:
    """Migrate and return a pipeline token (through manage.py, as an operator would)."""
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=harness.ROOT,
        env=env,
        check=True,
    )
    script = (
        "from accounts.services import issue_token\n"
        "from tests.factories import UserFactory\n"
        "u = UserFactory(username='bench-pipeline', groups=['pipeline'])\n"
        "print(issue_token(u, name='bench')[1])\n"
    )
    out = subprocess.run(
        [python, "manage.py", "shell", "-c", script],
        cwd=harness.ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def main():
    args = parse_args()
    dsn = harness.dsn(DB_NAME)
    queued = args.projection == "queued"
    extra = {"GOVREG_LINEAGE_PROJECTION": args.projection}
    if queued:
        extra |= {"CELERY_BROKER_URL": args.redis, "GOVREG_CELERY_EAGER": "false"}
        import redis

        redis.Redis.from_url(args.redis).flushdb()
    env = harness.govreg_env(DB_NAME, **extra)
    harness.recreate_database(DB_NAME)
    server = worker = None
    try:
        token = prepare(env)
        server, base = harness.start_govreg(env, args.workers, quiet=True)
        if queued:
            worker = start_worker(env)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        raw = psycopg.connect(dsn)
        raw.execute("CREATE TABLE bench_raw_event (id bigserial PRIMARY KEY, body jsonb NOT NULL)")
        raw.commit()

        sequence = 0
        drains = {"single": [], "batch": []}

        def drained(kind: str, started: float, n: int) -> None:
            """Queued: wait until the worker has projected everything (not counted in the
            intake's rate); the projection's own rate is from the first post to then."""
            if not queued:
                return
            while raw.execute("SELECT count(*) FROM lineage_pendingprojection").fetchone()[0]:
                raw.commit()
                time.sleep(0.02)
            raw.commit()
            drains[kind].append(n / (time.perf_counter() - started))

        def events(n):
            nonlocal sequence
            batch = [make_event(sequence + i) for i in range(n)]
            sequence += n
            return batch

        sample = json.dumps(make_event(0))
        print(
            f"event: RunEvent, 3 inputs, 2 outputs, schema facets, {len(sample)} bytes; "
            f"{args.events} events per round, {args.rounds} rounds after 1 warm-up; "
            f"batch size {args.batch_size}; gunicorn {args.workers} sync workers; "
            f"sequential client, new connection per request"
        )

        latencies = {"single": [], "me": []}

        def govreg_single(batch):
            bodies = [json.dumps(e) for e in batch]
            t0 = time.perf_counter()
            for body in bodies:
                start = time.perf_counter()
                response = requests.post(
                    f"{base}/api/v1/lineage", data=body, headers=headers, timeout=30
                )
                latencies["single"].append(time.perf_counter() - start)
                if response.status_code != 201:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
            return time.perf_counter() - t0

        def me(n):
            for _ in range(n):
                start = time.perf_counter()
                response = requests.get(f"{base}/api/me/", headers=headers, timeout=30)
                latencies["me"].append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

        def govreg_batch(batch):
            chunks = [
                json.dumps(batch[i : i + args.batch_size])
                for i in range(0, len(batch), args.batch_size)
            ]
            t0 = time.perf_counter()
            for body in chunks:
                response = requests.post(
                    f"{base}/api/v1/lineage/batch", data=body, headers=headers, timeout=120
                )
                if response.status_code != 200 or response.json()["status"] != "success":
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
            return time.perf_counter() - t0

        def raw_single(batch):
            bodies = [json.dumps(e) for e in batch]
            t0 = time.perf_counter()
            for body in bodies:
                raw.execute(
                    "INSERT INTO bench_raw_event (body) VALUES (%s)", (Jsonb(json.loads(body)),)
                )
                raw.commit()
            return time.perf_counter() - t0

        def raw_batch(batch):
            chunks = [batch[i : i + args.batch_size] for i in range(0, len(batch), args.batch_size)]
            t0 = time.perf_counter()
            for chunk in chunks:
                with raw.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO bench_raw_event (body) VALUES (%s)",
                        [(Jsonb(e),) for e in chunk],
                    )
                raw.commit()
            return time.perf_counter() - t0

        rates = {"govreg single": [], "raw single": [], "govreg batch": [], "raw batch": []}
        for round_index in range(args.rounds + 1):
            n = args.events if round_index else max(args.batch_size, args.events // 5)
            started = time.perf_counter()
            results = {"govreg single": n / govreg_single(events(n))}
            drained("single", started, n)
            results["raw single"] = n / raw_single(events(n))
            started = time.perf_counter()
            results["govreg batch"] = n / govreg_batch(events(n))
            drained("batch", started, n)
            results["raw batch"] = n / raw_batch(events(n))
            me(min(n, 200))
            if not round_index:
                latencies["single"].clear()
                latencies["me"].clear()
                drains["single"].clear()
                drains["batch"].clear()
            if round_index:
                for name, rate in results.items():
                    rates[name].append(rate)

        for name, values in rates.items():
            print(
                f"{name:<14} {statistics.median(values):9.1f} events/s "
                f"(rounds: {', '.join(f'{v:.1f}' for v in values)})"
            )
        single = statistics.median(rates["govreg single"]) / statistics.median(rates["raw single"])
        batch = statistics.median(rates["govreg batch"]) / statistics.median(rates["raw batch"])
        p50_single = statistics.median(latencies["single"]) * 1000
        p50_me = statistics.median(latencies["me"]) * 1000
        mean_single = statistics.fmean(latencies["single"]) * 1000
        p95_single = statistics.quantiles(latencies["single"], n=20)[-1] * 1000
        print(
            f"single p50 {p50_single:.1f} ms (mean {mean_single:.1f} ms, p95 {p95_single:.1f} ms), "
            f"GET /api/me/ p50 {p50_me:.1f} ms (ratio {p50_single / p50_me:.1f}x)"
        )
        stored = raw.execute("SELECT count(*) FROM lineage_lineageevent").fetchone()[0]
        runs = raw.execute("SELECT count(*) FROM lineage_run").fetchone()[0]
        print(f"stored lineage events: {stored}, projected runs: {runs}")
        if queued:
            print(
                "projection by the worker, first post to queue empty: single rounds "
                f"{statistics.median(drains['single']):.0f} events/s, batch rounds "
                f"{statistics.median(drains['batch']):.0f} events/s"
            )
        print(
            f"lineage_ingest ({args.projection}): single "
            f"{statistics.median(rates['govreg single']):.0f} events/s "
            f"({single:.1%} of raw jsonb INSERT), batch "
            f"{statistics.median(rates['govreg batch']):.0f} events/s ({batch:.1%} of raw batched "
            f"INSERT), event {len(sample)} B"
        )
        raw.close()
    finally:
        if worker is not None:
            harness.stop(worker)
        if server is not None:
            harness.stop(server)
        if not args.keep:
            harness.drop_database(DB_NAME)


if __name__ == "__main__":
    main()
