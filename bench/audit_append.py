"""Audit-chain append throughput against plain INSERTs, on PostgreSQL.

How to run (PostgreSQL on 127.0.0.1:5432, trust auth):
    .venv/bin/python bench/audit_append.py [--seconds 3] [--writers 1,4,16]

It creates a scratch database `bench_audit`, migrates it, and for 1, 4 and 16
concurrent writer processes measures, interleaved A B A B:
  A. plain: psycopg INSERT of the same row into an unchained table
     (`bench_plain_event`, same columns), one transaction per row;
  B. chain: audit.services.record(), one transaction per event (lock the chain
     head, read it, hash, insert, move the head).
Each writer is its own process with its own connection. Prints events/s for
both, the ratio plain/chain, and a one-line summary; drops the database.
"""

import argparse
import multiprocessing as mp
import statistics
import time

import harness
import psycopg

DB = "bench_audit"
ROW = {
    "action": "update",
    "object_type": "registry.mlmodel",
    "before": '{"description": "Scores loan applications.", "risk_tier": "high"}',
    "after": '{"description": "Scores SME loan applications.", "risk_tier": "high"}',
}


def setup_database() -> None:
    harness.recreate_database(DB)
    harness.setup_django(DB)
    with psycopg.connect(harness.dsn(DB), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_plain_event (id bigserial PRIMARY KEY, seq bigint,"
            " created_at timestamptz NOT NULL, actor_id bigint, actor_username varchar(150),"
            " actor_token varchar(200), action varchar(64), object_type varchar(100),"
            " object_id varchar(200), before jsonb, after jsonb, request_id varchar(64),"
            " source_address varchar(45), prev_hash varchar(64), hash varchar(64))"
        )
    from django.db import connections

    connections.close_all()


def plain_writer(deadline: float, counter) -> None:
    done = 0
    with psycopg.connect(harness.dsn(DB), autocommit=True) as conn:
        while time.perf_counter() < deadline:
            conn.execute(
                "INSERT INTO bench_plain_event (seq, created_at, actor_username, action,"
                " object_type, object_id, before, after, request_id, prev_hash, hash)"
                " VALUES (0, now(), 'bench', %s, %s, %s, %s, %s, 'r', %s, %s)",
                (
                    ROW["action"],
                    ROW["object_type"],
                    str(done),
                    ROW["before"],
                    ROW["after"],
                    "0" * 64,
                    "0" * 64,
                ),
            )
            done += 1
    with counter.get_lock():
        counter.value += done


def chain_writer(deadline: float, counter) -> None:
    import json

    from audit.services import record

    before, after = json.loads(ROW["before"]), json.loads(ROW["after"])
    done = 0
    while time.perf_counter() < deadline:
        record(
            ROW["action"],
            object_type=ROW["object_type"],
            object_id=str(done),
            before=before,
            after=after,
        )
        done += 1
    with counter.get_lock():
        counter.value += done


def measure(kind: str, writers: int, seconds: float) -> float:
    ctx = mp.get_context("fork")
    counter = ctx.Value("q", 0)
    target = plain_writer if kind == "plain" else chain_writer
    start = time.perf_counter()
    deadline = start + seconds
    procs = [ctx.Process(target=target, args=(deadline, counter)) for _ in range(writers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    return counter.value / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", default="1,4,16")
    args = parser.parse_args()
    setup_database()
    levels = [int(w) for w in args.writers.split(",")]
    print(
        f"audit_append: PostgreSQL, {args.rounds} interleaved rounds of {args.seconds}s each,"
        f" one transaction per row, ~{len(ROW['before']) + len(ROW['after'])} B of JSON per row"
    )
    summary = []
    try:
        # warm-up, discarded
        measure("plain", 1, 0.5)
        measure("chain", 1, 0.5)
        for writers in levels:
            plain, chain = [], []
            for _ in range(args.rounds):
                plain.append(measure("plain", writers, args.seconds))
                chain.append(measure("chain", writers, args.seconds))
            p, c = statistics.median(plain), statistics.median(chain)
            print(
                f"  writers={writers:>2}"
                f"  plain {p:8.0f}/s (min {min(plain):.0f}, max {max(plain):.0f})"
                f"  chain {c:8.0f}/s (min {min(chain):.0f}, max {max(chain):.0f})"
                f"  cost {p / c:.2f}x"
            )
            summary.append(f"{writers}w {c:.0f}/s vs {p:.0f}/s ({p / c:.2f}x)")
        from django.core.management import call_command

        call_command("verify_audit")
    finally:
        from django.db import connections

        connections.close_all()
        harness.drop_database(DB)
    print("audit_append: chain vs plain insert: " + "; ".join(summary))


if __name__ == "__main__":
    main()
