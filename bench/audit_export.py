"""Exporting the audit trail as a signed bundle, against COPY of the same rows, on PostgreSQL.

How to run (PostgreSQL on 127.0.0.1:5432, trust auth):
    .venv/bin/python bench/audit_export.py [--events 1000000] [--proofs 300]

It creates a scratch database `bench_audit_export`, migrates it and bulk-loads
N audit events with a valid hash chain (computed here, written with COPY),
then measures, in the same run:
  - signing: the first checkpoint over all N events (walks and hashes every
    event, stores the tree nodes), then the next one after one more event
    (incremental: what beat and every export pay);
  - baseline: `COPY (SELECT <every event column> ... ORDER BY seq) TO STDOUT` of
    the period's rows, read to the end by psycopg (run before and after the
    export; the faster counts);
  - export: `audit.exports.run()` of the same period in a process of its own
    (signs a fresh checkpoint, streams events.jsonl, proofs, zip): events/s,
    the ratio to COPY's rows/s, and the process's peak RSS;
  - verify: `govreg_verify.bundle.verify_bundle` of the bundle in a process of
    its own (time, peak RSS);
  - proofs: p95 of `GET /api/audit/proof?seq=<random>` against gunicorn (2 workers).
Prints one line per figure and a summary with the aims (export >= 50 % of COPY,
export RSS <= 200 MB, proof p95 <= 50 ms); drops the database.
"""

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness
import psycopg
import requests

DB = "bench_audit_export"
COLUMNS = (
    "seq, created_at, actor_id, actor_username, actor_token, action, object_type, object_id,"
    " before, after, request_id, source_address, prev_hash, hash"
)
ACTIONS = ("registry.mlmodel.update", "gate.approve", "risk.risk.update", "lineage.ingest")


def load_events(count: int) -> tuple[datetime, datetime]:
    """Append ``count`` events after the migrated trail's own, chain intact; returns the
    period (first and last time) of the loaded ones."""
    from govreg_verify.events import canonical

    with psycopg.connect(harness.dsn(DB)) as conn:
        seq, prev = conn.execute(
            "SELECT last_seq, last_hash FROM audit_auditchainhead WHERE id = 1"
        ).fetchone()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with conn.cursor().copy(f"COPY audit_auditevent ({COLUMNS}) FROM STDIN") as copy:
            for index in range(count):
                seq += 1
                record = {
                    "seq": seq,
                    "created_at": start + timedelta(milliseconds=index),
                    "actor_id": 7,
                    "actor_username": "approver",
                    "actor_token": "",
                    "action": ACTIONS[index % 4],
                    "object_type": "registry.mlmodel",
                    "object_id": str(index % 500),
                    "before": {"description": "Scores loan applications.", "risk_tier": "high"},
                    "after": {"description": f"Scores SME loans, v{index}.", "risk_tier": "high"},
                    "request_id": f"{index:032x}",
                    "source_address": "10.0.0.7",
                    "prev_hash": prev,
                }
                prev = hashlib.sha256(canonical(record)).hexdigest()
                copy.write_row(
                    (
                        *(record[name] for name in ("seq", "created_at", "actor_id")),
                        record["actor_username"],
                        record["actor_token"],
                        record["action"],
                        record["object_type"],
                        record["object_id"],
                        json.dumps(record["before"]),
                        json.dumps(record["after"]),
                        record["request_id"],
                        record["source_address"],
                        record["prev_hash"],
                        prev,
                    )
                )
        conn.execute(
            "UPDATE audit_auditchainhead SET last_seq = %s, last_hash = %s WHERE id = 1",
            (seq, prev),
        )
        conn.execute("ANALYZE audit_auditevent")
    return start, start + timedelta(milliseconds=count - 1)


def copy_baseline(after: datetime, before: datetime) -> tuple[int, float]:
    """(rows, seconds) of COPY TO STDOUT of the period's rows, read to the end."""
    sql = (
        f"COPY (SELECT {COLUMNS} FROM audit_auditevent WHERE created_at >= %s"
        " AND created_at < %s ORDER BY seq) TO STDOUT"
    )
    with psycopg.connect(harness.dsn(DB)) as conn:
        started = time.perf_counter()
        rows = 0
        with conn.cursor().copy(sql, (after, before)) as copy:
            for data in copy:
                rows += bytes(data).count(b"\n")
        return rows, time.perf_counter() - started


def peak_rss_mb() -> float:
    """This process's own peak resident set (``VmHWM``, Linux). ``ru_maxrss`` would not
    do: it survives ``exec``, so a spawned child would report the peak of the parent
    it was forked from (the one that loaded and signed the events)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_child(export_id: int, answer) -> None:
    """In a process of its own: run the export, report seconds and peak RSS."""
    import django

    django.setup()
    from audit import exports

    started = time.perf_counter()
    export = exports.run(export_id)
    answer.put(
        {
            "seconds": time.perf_counter() - started,
            "events": export.events,
            "size": export.size,
            "file": str(Path(exports.storage().path(export.file))),
            "rss_mb": peak_rss_mb(),
        }
    )


def verify_child(path: str, public_pem: bytes, answer) -> None:
    from govreg_verify.bundle import verify_bundle

    started = time.perf_counter()
    report = verify_bundle(path, public_key=public_pem)
    answer.put(
        {
            "seconds": time.perf_counter() - started,
            "ok": report.ok,
            "failure": report.failure,
            "events": report.events,
            "rss_mb": peak_rss_mb(),
        }
    )


def in_child(target, *args) -> dict:
    context = mp.get_context("spawn")
    answer = context.Queue()
    process = context.Process(target=target, args=(*args, answer))
    process.start()
    result = answer.get()
    process.join()
    return result


def proof_latencies(count: int, size: int) -> list[float]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.roles import Role
    from accounts.services import issue_token
    from audit.context import acting_as

    with acting_as(name="bench setup"):
        user = get_user_model().objects.create_user("bench-auditor", "auditor@example.com")
        user.groups.add(Group.objects.get_or_create(name=Role.AUDITOR)[0])
        _, token = issue_token(user, name="bench")
    from audit.services import sign_checkpoint

    sign_checkpoint()  # the token's events: the default tree size is the latest checkpoint
    server, base = harness.start_govreg(harness.govreg_env(DB, **SETTINGS), workers=2, quiet=True)
    try:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        picker = random.Random(7)

        def ask(_):
            seq = picker.randint(1, size)
            response = session.get(f"{base}/api/audit/proof", params={"seq": seq}, timeout=30)
            assert response.status_code == 200, response.text[:200]

        harness.timed(ask, 20)  # warm the workers
        return harness.timed(ask, count)
    finally:
        harness.stop(server)


SETTINGS: dict = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=300)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="govreg-bench-audit-"))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from govreg_verify.checkpoint import private_key_pem, public_key_pem

    key = Ed25519PrivateKey.generate()
    (workdir / "signing-key.pem").write_bytes(private_key_pem(key))
    SETTINGS.update(
        GOVREG_SIGNING_KEY_FILE=str(workdir / "signing-key.pem"),
        GOVREG_AUDIT_EXPORT_DIR=str(workdir / "exports"),
    )
    harness.recreate_database(DB)
    try:
        harness.setup_django(DB, **SETTINGS)
        print(
            f"audit export on PostgreSQL, {args.events:,} events ({os.cpu_count()} cores,"
            f" load average {os.getloadavg()[0]:.1f} at the start)",
            flush=True,
        )
        started = time.perf_counter()
        after, last = load_events(args.events)
        print(
            f"  setup: loaded {args.events:,} chained events"
            f" in {time.perf_counter() - started:.1f} s"
        )

        from django.db import connections
        from django.utils import timezone

        from audit.models import AuditExport
        from audit.services import record, sign_checkpoint

        started = time.perf_counter()
        first = sign_checkpoint()
        first_s = time.perf_counter() - started
        record("bench.event", object_type="bench", object_id="1")
        started = time.perf_counter()
        second = sign_checkpoint()
        next_s = time.perf_counter() - started
        print(f"  sign first checkpoint ({first.tree_size:,} events)      {first_s:8.2f} s")
        print(f"  sign next checkpoint ({second.tree_size:,} events, +1)  {next_s * 1000:8.1f} ms")

        before = last + timedelta(milliseconds=1)
        export = AuditExport.objects.create(after=after, before=before, created_at=timezone.now())
        record("audit.export", obj=export)
        connections.close_all()

        rows_a, copy_a = copy_baseline(after, before)
        exported = in_child(export_child, export.pk)
        rows_b, copy_b = copy_baseline(after, before)
        copy_s = min(copy_a, copy_b)
        assert rows_a == rows_b == exported["events"] == args.events, (rows_a, exported)
        copy_rate = rows_a / copy_s
        export_rate = exported["events"] / exported["seconds"]
        print(
            f"  COPY (SELECT ...) TO STDOUT          {copy_rate:12,.0f} rows/s   ({copy_s:.2f} s)"
        )
        print(
            f"  export to a signed bundle            {export_rate:12,.0f} events/s"
            f" ({exported['seconds']:.2f} s,"
            f" {exported['size'] / 1e6:.0f} MB zip)  = {export_rate / copy_rate:.0%} of COPY"
        )
        print(f"  export process peak RSS              {exported['rss_mb']:8.0f} MB")

        verified = in_child(verify_child, exported["file"], public_key_pem(key.public_key()))
        assert verified["ok"], verified["failure"]
        print(
            f"  govreg verify (offline)              {verified['seconds']:8.2f} s"
            f"  ({verified['events'] / verified['seconds']:,.0f} events/s, peak RSS"
            f" {verified['rss_mb']:.0f} MB)"
        )

        stats = harness.describe(proof_latencies(args.proofs, args.events))
        print(harness.line("GET /api/audit/proof", stats, width=36))
        print(
            f"summary: export {export_rate / copy_rate:.0%} of COPY (aim >= 50%), export RSS"
            f" {exported['rss_mb']:.0f} MB (aim <= 200 MB), verify {verified['seconds']:.1f} s,"
            f" proof p95 {stats['p95_ms']:.1f} ms (aim <= 50 ms), first checkpoint"
            f" {first_s:.1f} s, next {next_s * 1000:.0f} ms, at {args.events:,} events"
            f" (load average {os.getloadavg()[0]:.1f} at the end)"
        )
    finally:
        from django.db import connections

        connections.close_all()
        harness.drop_database(DB)
        shutil.rmtree(workdir, ignore_errors=True)  # the key and the bundle (70 MB at 1M)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
