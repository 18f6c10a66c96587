"""Depth-20 upstream/downstream lineage queries on a large synthetic graph (PostgreSQL).

How to run (PostgreSQL on 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/lineage_graph.py            # 60,000 jobs, 200,000 dataset versions
    .venv/bin/python bench/lineage_graph.py --jobs 6000 --versions 20000 --queries 50

It creates the database ``bench_lineage_graph``, migrates it, bulk-loads a
synthetic graph with COPY, and times ``lineage.graph.upstream_version_ids`` (from
one run) and ``lineage.graph.downstream_run_hops`` (from one dataset version) at
depth 20: the recursive CTEs the registry and the /api/lineage endpoints use.
The baseline, in the same run on the same graph, is the same traversal in memory
with networkx (the graph already loaded, so it is a lower bound, not a peer
product). Queries are interleaved (SQL, networkx, SQL, ...), the first ones are
discarded as warm-up, and every SQL answer is checked against networkx.
The database is dropped at the end (``--keep`` keeps it).

With ``--ingest N`` it then ingests N OpenLineage COMPLETE events through govreg's
own set-based projection (``lineage.services.ingest_events``, ``--ingest-batch``
events per transaction, audit events included): new runs of the graph's jobs,
each reading its previous stage's output datasets (their latest versions) and
writing a new version of its own. The ingested edges are added to networkx from
the database, and the same queries are timed again, so the summary says whether
the ingest left the graph queries' p95 unchanged:

    .venv/bin/python bench/lineage_graph.py --jobs 1000000 --versions 5600000 --ingest 1000000

Graph shape: pipelines of 20 stages (one job per stage); each job runs twice;
each run reads two or three versions written by the previous stage (10% of runs
also read a version from another pipeline, so pipelines interlock) and writes
one or two versions; stage 0 reads from shared source datasets.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import harness
import psycopg

DB_NAME = "bench_lineage_graph"
STAGES = 20
DEPTH = 20


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=60_000)
    parser.add_argument("--versions", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200, help="timed queries per direction")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--ingest",
        type=int,
        default=0,
        help="then ingest this many OpenLineage events through the projection and time again",
    )
    parser.add_argument("--ingest-batch", type=int, default=500, help="events per transaction")
    return parser.parse_args()


def build_graph(jobs: int, versions: int, rng: random.Random):
    """Rows for every table, as plain tuples, plus the edge lists for networkx."""
    pipelines = max(1, jobs // STAGES)
    runs_per_job = 2
    produced_target = int(versions * 0.9)
    outputs_per_run = produced_target / (pipelines * STAGES * runs_per_job)
    source_versions = versions - produced_target
    source_datasets = max(1, source_versions // 2)

    datasets, dataset_versions, job_rows, run_rows, run_inputs, run_outputs = [], [], [], [], [], []
    next_dataset = next_version = 1
    source_pool = []
    for _ in range(source_datasets):
        datasets.append((next_dataset, 1, f"source/table_{next_dataset}"))
        for _day in range(2):
            if len(source_pool) < source_versions:
                dataset_versions.append((next_version, next_dataset, None))
                source_pool.append(next_version)
                next_version += 1
        next_dataset += 1

    job_id = run_id = 1
    stage_outputs: dict[tuple[int, int], list[int]] = {}  # (pipeline, stage) -> version ids
    carry = 0.0
    for pipeline in range(pipelines):
        for stage in range(STAGES):
            job_rows.append((job_id, 2, f"pipeline_{pipeline}.stage_{stage}"))
            carry += outputs_per_run * runs_per_job
            n_out_datasets = max(1, min(2, round(carry / runs_per_job)))
            carry -= n_out_datasets * runs_per_job
            out_datasets = []
            for k in range(n_out_datasets):
                datasets.append((next_dataset, 1, f"pipeline_{pipeline}/stage_{stage}/out_{k}"))
                out_datasets.append(next_dataset)
                next_dataset += 1
            written = []
            for _day in range(runs_per_job):
                run_rows.append((run_id, job_id))
                if stage == 0:
                    inputs = rng.sample(source_pool, 3)
                else:
                    previous = stage_outputs[(pipeline, stage - 1)]
                    inputs = rng.sample(previous, min(len(previous), rng.choice((2, 3))))
                    if pipeline > 0 and rng.random() < 0.10:
                        other = rng.randrange(pipeline)
                        other_stage = rng.randrange(stage)
                        inputs.append(rng.choice(stage_outputs[(other, other_stage)]))
                for version in set(inputs):
                    run_inputs.append((run_id, version))
                for dataset_id in out_datasets:
                    dataset_versions.append((next_version, dataset_id, run_id))
                    run_outputs.append((run_id, next_version))
                    written.append(next_version)
                    next_version += 1
                run_id += 1
            stage_outputs[(pipeline, stage)] = written
            job_id += 1
    return datasets, dataset_versions, job_rows, run_rows, run_inputs, run_outputs


def bulk_load(dsn: str, rows):
    datasets, dataset_versions, job_rows, run_rows, run_inputs, run_outputs = rows
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO lineage_namespace (id, name, created_at) VALUES "
            "(1, 'warehouse', %s), (2, 'scheduler', %s)",
            (base, base),
        )

        def copy(table, columns, tuples):
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copier:
                for row in tuples:
                    copier.write_row(row)

        copy(
            "lineage_dataset",
            ["id", "namespace_id", "name", "facets", "lifecycle_state", "created_at", "updated_at"],
            ((i, ns, name, "{}", "", base, base) for i, ns, name in datasets),
        )
        copy(
            "lineage_job",
            ["id", "namespace_id", "name", "facets", "created_at", "updated_at"],
            ((i, ns, name, "{}", base, base) for i, ns, name in job_rows),
        )
        copy(
            "lineage_run",
            [
                "id",
                "run_id",
                "source_run_id",
                "job_id",
                "state",
                "facets",
                "created_at",
                "updated_at",
            ],  # fmt: skip
            (
                (
                    i,
                    uuid.UUID(int=i),
                    str(uuid.UUID(int=i)),
                    job,
                    "COMPLETE",
                    "{}",
                    base + timedelta(seconds=i),
                    base,
                )
                for i, job in run_rows
            ),
        )
        copy(
            "lineage_datasetversion",
            [
                "id",
                "dataset_id",
                "version",
                "status",
                "privacy_notes",
                "consent_notes",
                "licence_notes",
                "producing_run_id",
                "facets",
                "lifecycle_state",
                "created_at",
                "updated_at",
            ],  # fmt: skip
            (
                (
                    i,
                    d,
                    f"v{i}",
                    "active",
                    "",
                    "",
                    "",
                    run,
                    "{}",
                    "",
                    base + timedelta(seconds=i),
                    base,
                )  # fmt: skip
                for i, d, run in dataset_versions
            ),
        )
        copy(
            "lineage_runinput",
            ["run_id", "dataset_version_id", "facets", "created_at"],
            ((r, v, "{}", base + timedelta(seconds=r)) for r, v in run_inputs),
        )
        copy(
            "lineage_runoutput",
            ["run_id", "dataset_version_id", "facets", "created_at"],
            ((r, v, "{}", base + timedelta(seconds=r)) for r, v in run_outputs),
        )
        for table in ("dataset", "job", "run", "datasetversion", "runinput", "runoutput"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('lineage_{table}', 'id'), "
                f"(SELECT MAX(id) FROM lineage_{table}))"
            )
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def ingest(events: int, batch: int, pipelines: int, sources: int, rng: random.Random) -> None:
    """Ingest ``events`` COMPLETE events through the projection, ``batch`` per
    transaction: each a new run of a random job of the graph, reading its previous
    stage's first output dataset (its latest version; stage 0 reads a source table)
    and writing a new version of its own first output dataset."""
    from django.db import transaction

    from lineage.services import ingest_events

    moment = datetime(2026, 6, 1, tzinfo=UTC)
    producer = "https://example.com/bench/lineage_graph"
    for first in range(0, events, batch):
        chunk = []
        for n in range(first, min(first + batch, events)):
            pipeline, stage = rng.randrange(pipelines), rng.randrange(STAGES)
            source = (
                f"pipeline_{pipeline}/stage_{stage - 1}/out_0"
                if stage
                else f"source/table_{rng.randrange(1, sources + 1)}"
            )
            chunk.append(
                {
                    "eventType": "COMPLETE",
                    "eventTime": (moment + timedelta(seconds=n)).isoformat(),
                    "producer": producer,
                    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
                    "run": {"runId": str(uuid.uuid4())},
                    "job": {"namespace": "scheduler", "name": f"pipeline_{pipeline}.stage_{stage}"},
                    "inputs": [{"namespace": "warehouse", "name": source}],
                    "outputs": [
                        {
                            "namespace": "warehouse",
                            "name": f"pipeline_{pipeline}/stage_{stage}/out_0",
                            "facets": {
                                "version": {
                                    "_producer": producer,
                                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
                                    "DatasetVersionDatasetFacet.json",
                                    "datasetVersion": f"ingest-{n}",
                                }
                            },
                        }
                    ],
                }
            )
        with transaction.atomic():
            ingest_events(chunk)


def describe(name, samples_ms):
    stats = harness.describe(samples_ms)
    return (
        f"{name:<28} p50 {stats['median_ms']:8.2f} ms   p95 {stats['p95_ms']:8.2f} ms   "
        f"min-max {stats['min_ms']:.2f}-{stats['max_ms']:.2f} ms"
    )


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    dsn = harness.dsn(DB_NAME)
    harness.recreate_database(DB_NAME)
    try:
        harness.setup_django(DB_NAME)

        started = time.perf_counter()
        rows = build_graph(args.jobs, args.versions, rng)
        bulk_load(dsn, rows)
        load_s = time.perf_counter() - started
        datasets, dataset_versions, job_rows, run_rows, run_inputs, run_outputs = rows
        print(
            f"graph: {len(job_rows)} jobs, {len(run_rows)} runs, {len(datasets)} datasets, "
            f"{len(dataset_versions)} dataset versions, {len(run_inputs)} input edges, "
            f"{len(run_outputs)} output edges (generated and COPY-loaded in {load_s:.1f} s)"
        )

        import networkx as nx

        from lineage import graph

        digraph = nx.DiGraph()
        digraph.add_nodes_from(("v", v) for v, _d, _r in dataset_versions)
        digraph.add_nodes_from(("r", r) for r, _j in run_rows)
        digraph.add_edges_from((("v", v), ("r", r)) for r, v in run_inputs)
        digraph.add_edges_from((("r", r), ("v", v)) for r, v in run_outputs)
        reverse = digraph.reverse(copy=False)
        cutoff = 2 * DEPTH - 1  # a run hop is two edges; the last hop ends on a version / run

        def nx_upstream(run):
            reached = nx.single_source_shortest_path_length(reverse, ("r", run), cutoff=cutoff)
            return {node[1] for node in reached if node[0] == "v"}

        def nx_downstream(version):
            reached = nx.single_source_shortest_path_length(digraph, ("v", version), cutoff=cutoff)
            return {node[1] for node in reached if node[0] == "r"}

        late_runs = [r for r, job in run_rows if (job - 1) % STAGES >= STAGES - 3]
        read = {v for _r, v in run_inputs}
        early_versions = [v for v, _d, run in dataset_versions if run is None and v in read]
        total = args.queries + args.warmup
        up_starts = rng.sample(late_runs, total)
        down_starts = rng.sample(early_versions, total)

        versions_now = len(dataset_versions)

        def measure(label: str) -> float:
            """Time the queries (SQL and networkx interleaved); print; the SQL p95."""
            timings = {"sql up": [], "nx up": [], "sql down": [], "nx down": []}
            sizes = {"up": [], "down": []}
            mismatches = 0
            for index in range(total):
                t0 = time.perf_counter()
                sql_up = graph.upstream_version_ids([up_starts[index]], depth=DEPTH)
                t1 = time.perf_counter()
                mem_up = nx_upstream(up_starts[index])
                t2 = time.perf_counter()
                sql_down = graph.downstream_run_hops([down_starts[index]], depth=DEPTH)
                t3 = time.perf_counter()
                mem_down = nx_downstream(down_starts[index])
                t4 = time.perf_counter()
                mismatches += (set(sql_up) != mem_up) + (set(sql_down) != mem_down)
                if index < args.warmup:
                    continue
                timings["sql up"].append((t1 - t0) * 1000)
                timings["nx up"].append((t2 - t1) * 1000)
                timings["sql down"].append((t3 - t2) * 1000)
                timings["nx down"].append((t4 - t3) * 1000)
                sizes["up"].append(len(sql_up))
                sizes["down"].append(len(sql_down))

            print(
                f"{label}: {args.queries} queries per direction after {args.warmup} warm-up, "
                f"depth {DEPTH}, sequential, one connection; answers checked against networkx: "
                f"{'all equal' if not mismatches else f'{mismatches} MISMATCHES'}"
            )
            print(
                f"result sizes: upstream median {statistics.median(sizes['up']):.0f} versions "
                f"(max {max(sizes['up'])}), downstream median "
                f"{statistics.median(sizes['down']):.0f} runs (max {max(sizes['down'])})"
            )
            print(describe("PostgreSQL upstream", timings["sql up"]))
            print(describe("networkx upstream", timings["nx up"]))
            print(describe("PostgreSQL downstream", timings["sql down"]))
            print(describe("networkx downstream", timings["nx down"]))
            p95 = {name: harness.percentile(values, 95) for name, values in timings.items()}
            worst = max(p95["sql up"], p95["sql down"])
            nx_worst = max(p95["nx up"], p95["nx down"])
            print(
                f"lineage_graph: p95 {worst:.1f} ms (networkx {nx_worst:.1f} ms, ratio "
                f"{worst / nx_worst:.1f}x) at {len(job_rows)} jobs / {versions_now} "
                f"versions{f' ({label})' if args.ingest else ''}"
            )
            return worst

        before = measure("before ingest" if args.ingest else "queries")
        if args.ingest:
            pipelines = len(job_rows) // STAGES
            last_run = max(r for r, _j in run_rows)
            started = time.perf_counter()
            sources = sum(name.startswith("source/") for _i, _ns, name in datasets)
            ingest(args.ingest, args.ingest_batch, pipelines, sources, rng)
            rate = args.ingest / (time.perf_counter() - started)
            with psycopg.connect(dsn) as conn:
                for table, edge in (
                    ("lineage_runinput", lambda r, v: (("v", v), ("r", r))),
                    ("lineage_runoutput", lambda r, v: (("r", r), ("v", v))),
                ):
                    rows = conn.execute(
                        f"SELECT run_id, dataset_version_id FROM {table} WHERE run_id > %s",  # noqa: S608
                        [last_run],
                    )
                    digraph.add_edges_from(edge(r, v) for r, v in rows)
                counted = conn.execute("SELECT count(*) FROM lineage_datasetversion")
                versions_now = counted.fetchone()[0]
            print(
                f"ingested {args.ingest} events through the projection at {rate:.0f} events/s "
                f"({args.ingest_batch} per transaction); {versions_now} dataset versions now"
            )
            after = measure("after ingest")
            print(
                f"lineage_graph: p95 {after:.1f} ms after ingesting {args.ingest} events, "
                f"{before:.1f} ms before (ratio {after / before:.2f}x) at {len(job_rows)} jobs"
            )
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            harness.drop_database(DB_NAME)


if __name__ == "__main__":
    main()
