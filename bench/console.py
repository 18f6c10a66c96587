"""The console's pages: p95 server time per page on the demo story plus bulk data,
against GET /healthz in the same run.

How to run (PostgreSQL on 127.0.0.1:5432 with trust auth):
    .venv/bin/python bench/console.py [--models 1000] [--risks 10000] [--runs 50000]
        [--requests 30]

It creates a scratch database ``bench_console``, migrates it, tells the demo story
(``seed_demo``), then adds ``--models`` models (three teams, one version each live in
staging, the team's object permissions as ``register_model`` grants them),
``--risks`` risks (a fifth linked to a bulk model, team permissions) and ``--runs``
lineage runs of one job, with bulk inserts (no audit events for the bulk rows), and a
training run of a bulk model version fed by ``--graph-features`` feature versions, each
written by its own run from two raw versions (125 features: a lineage picture of 502
nodes; one raw version is revoked). Each
page is asked ``--requests`` times in this process through Django's test client
(the whole request: middleware, permissions, queries, templates; no network), as
a board member (sees everything) and as an approver of one team (scoped through the
permission tables); the first three answers of each page are a warm-up and are
discarded. Prints median and p95 per page and its p95 ratio to /healthz's; drops
the database at the end. Other engineers' pages: add their paths to PAGES (``{name}``
is filled from ``page_ids()``, the ids of the demo story's records). Aims: p95 at most
150 ms for every page, 300 ms for the lineage picture of 500 nodes (its graph.json).
"""

import argparse
import random
import sys
import uuid

import harness

DB = "bench_console"
WARMUP = 3
# (path, who) - "board" reads every team's records, "approver" only credit-risk's.
PAGES = [
    ("/", "board"),
    ("/", "approver"),
    ("/models/", "board"),
    ("/models/?q=bulk-05&risk_tier=high", "board"),
    ("/models/loan-default/", "board"),
    ("/models/bulk-0501/", "approver"),
    ("/audit/", "board"),
    ("/audit/?object_type=registry.mlmodel", "board"),
    ("/requests/?status=all", "board"),
    ("/risks/", "board"),
    ("/risks/", "approver"),
    ("/incidents/?status=all", "board"),
    ("/requests/{pending}/", "approver"),
    ("/risks/heatmap/", "board"),
    ("/risks/{risk}/", "board"),
    ("/incidents/{incident}/", "board"),
    ("/drills/", "board"),
    ("/lineage/", "board"),
    ("/lineage/?nodeId={training_node}", "board"),
    ("/lineage/graph.json?nodeId={training_node}&depth=20", "board"),
    ("/lineage/versions/{revoked}/", "board"),
    ("/lineage/versions/{demo_revoked}/", "approver"),
]


def setup(sqlite: str | None) -> None:
    """Migrate the scratch database: PostgreSQL (``bench_console``), or a SQLite file."""
    mail = "django.core.mail.backends.locmem.EmailBackend"
    if sqlite is None:
        harness.recreate_database(DB)
        harness.setup_django(DB, EMAIL_BACKEND=mail)
        return
    import os

    import django
    from django.core.management import call_command

    os.environ.update(harness.govreg_env(DB, EMAIL_BACKEND=mail))
    os.environ["DATABASE_URL"] = f"sqlite:///{sqlite}"
    django.setup()
    call_command("migrate", verbosity=0)


def seed(models: int, risks: int, runs: int, graph_features: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.utils import timezone
    from guardian.models import GroupObjectPermission

    from accounts.permissions import perm_name
    from lineage.models import Job, Namespace, Run
    from registry.models import Deployment, Environment, MLModel, ModelVersion
    from risk.models import Risk, RiskMatrix

    call_command("seed_demo", "--quiet-story", stdout=open("/dev/null", "w"))  # noqa: SIM115
    rng = random.Random(13)
    now = timezone.now()
    teams = list(Group.objects.filter(name__in=("credit-risk", "fraud-detection")))
    teams.append(Group.objects.get(name="customer-support"))
    staging = Environment.objects.get(name="staging")
    owner = get_user_model().objects.get(username="engineer")

    def grant(objects, actions):
        from django.contrib.auth.models import Permission

        content_type = ContentType.objects.get_for_model(type(objects[0]))
        perms = {
            action: Permission.objects.get(
                content_type=content_type,
                codename=perm_name(type(objects[0]), action).split(".")[1],
            )
            for action in actions
        }
        GroupObjectPermission.objects.bulk_create(
            [
                GroupObjectPermission(
                    group=obj.team,
                    permission=perms[action],
                    content_type=content_type,
                    object_pk=str(obj.pk),
                )
                for obj in objects
                for action in actions
            ],
            batch_size=5000,
        )

    bulk_models = MLModel.objects.bulk_create(
        [
            MLModel(
                name=f"bulk-{number:04d}",
                team=teams[number % 3],
                risk_tier=rng.choice(["minimal", "limited", "high"]),
                description=f"bulk model {number}",
                intended_use="bench",
            )
            for number in range(models)
        ],
        batch_size=1000,
    )
    grant(bulk_models, ("view", "change", "delete", "approve"))
    versions = ModelVersion.objects.bulk_create(
        [
            ModelVersion(
                model=m,
                version="1",
                artifact_uri=f"s3://bench/{m.name}",
                artifact_digest="sha256:" + "0" * 64,
            )
            for m in bulk_models
        ],
        batch_size=1000,
    )
    Deployment.objects.bulk_create(
        [
            Deployment(model=v.model, model_version=v, environment=staging, deployed_at=now)
            for v in versions
        ],
        batch_size=1000,
    )
    matrix = RiskMatrix.default()
    rows = []
    for number in range(risks):
        risk = Risk(
            team=teams[number % 3],
            title=f"bulk risk {number}",
            category="data-drift",
            matrix=matrix,
            owner=owner,
            inherent_likelihood=rng.randint(1, 5),
            inherent_impact=rng.randint(1, 5),
            residual_likelihood=rng.randint(1, 3),
            residual_impact=rng.randint(1, 3),
            next_review_date=(now + (rng.random() - 0.2) * 100 * timezone.timedelta(days=1)).date(),
        )
        risk.compute_levels()
        rows.append(risk)
    bulk_risks = Risk.objects.bulk_create(rows, batch_size=2000)
    grant(bulk_risks, ("view", "change", "delete"))
    links = Risk.ml_models.through
    links.objects.bulk_create(
        [
            links(risk_id=risk.pk, mlmodel_id=bulk_models[index % len(bulk_models)].pk)
            for index, risk in enumerate(bulk_risks[::5])
        ],
        batch_size=5000,
    )
    namespace, _ = Namespace.objects.get_or_create(name="bench://jobs")
    job, _ = Job.objects.get_or_create(namespace=namespace, name="bench.train")
    Run.objects.bulk_create(
        [Run(run_id=uuid.uuid4(), job=job, state="COMPLETE") for _ in range(runs)],
        batch_size=5000,
    )
    training = wide_graph(namespace, graph_features)
    first = versions[0]
    first.training_run = training
    first.save(update_fields=["training_run"])


def wide_graph(namespace, features: int):
    """A training run reading ``features`` feature versions, each written by its own run
    from two raw versions (the first one revoked): 1 + 4 * features lineage nodes."""
    from lineage.models import Dataset, DatasetVersion, Job, Run, RunInput, RunOutput

    raw = Dataset.objects.create(namespace=namespace, name="bench/raw")
    feature = Dataset.objects.create(namespace=namespace, name="bench/features")
    build = Job.objects.create(namespace=namespace, name="bench.build_features")
    train = Job.objects.create(namespace=namespace, name="bench.train_wide")
    training = Run.objects.create(run_id=uuid.uuid4(), job=train, state="COMPLETE")
    builds = Run.objects.bulk_create(
        Run(run_id=uuid.uuid4(), job=build, state="COMPLETE") for _ in range(features)
    )
    made = DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=feature, version=f"f{n}", content_hash=f"md5:f{n}")
        for n in range(features)
    )
    raws = DatasetVersion.objects.bulk_create(
        DatasetVersion(
            dataset=raw,
            version=f"r{n}",
            content_hash=f"md5:r{n}",
            status="revoked" if n == 0 else "active",
        )
        for n in range(2 * features)
    )
    RunOutput.objects.bulk_create(
        RunOutput(run=run, dataset_version=version)
        for run, version in zip(builds, made, strict=True)
    )
    RunInput.objects.bulk_create(
        RunInput(run=builds[n // 2], dataset_version=version) for n, version in enumerate(raws)
    )
    RunInput.objects.bulk_create(RunInput(run=training, dataset_version=v) for v in made)
    return training


def analyze() -> None:
    """Planner statistics for the bulk rows, as autovacuum would gather them on a live
    database; without them PostgreSQL guesses a few rows per permission table and picks
    nested loops that take seconds for a scoped reader."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def page_ids() -> dict:
    """The ids the dynamic PAGES name, from the demo story and the wide graph."""
    from lineage import graph
    from lineage.models import DatasetVersion, Job
    from playbooks.demo import OVERDUE_REPORT_INCIDENT
    from playbooks.models import Incident
    from registry.models import DeploymentRequest
    from risk.models import Risk

    training = Job.objects.get(name="bench.train_wide").runs.get()
    return {
        "pending": DeploymentRequest.objects.filter(
            status="pending", model_version__model__name="loan-default"
        )
        .values_list("pk", flat=True)
        .first(),
        "risk": Risk.objects.get(title="Score drift when the bureau data changes").pk,
        "incident": Incident.objects.get(title=OVERDUE_REPORT_INCIDENT).pk,
        "training_node": graph.run_node_id(training),
        "revoked": DatasetVersion.objects.get(dataset__name="bench/raw", version="r0").pk,
        # the demo story's revoked bureau extract (it feeds loan-default@2 and credit-limit@1)
        "demo_revoked": DatasetVersion.objects.filter(status="revoked")
        .exclude(dataset__name="bench/raw")
        .values_list("pk", flat=True)
        .first(),
    }


def measure(requests: int) -> list[tuple[str, str, dict]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    people = get_user_model().objects
    clients = {}
    for who, username in (("board", "board"), ("approver", "approver")):
        clients[who] = Client(HTTP_HOST="localhost")
        clients[who].force_login(people.get(username=username))
    anonymous = Client(HTTP_HOST="localhost")

    def run(client, path):
        def ask(_index):
            response = client.get(path)
            if response.status_code != 200:
                sys.exit(f"{path}: {response.status_code}")

        return harness.describe(harness.timed(ask, requests + WARMUP)[WARMUP:])

    ids = page_ids()
    results = [("/healthz", "anonymous", run(anonymous, "/healthz"))]
    for template, who in PAGES:
        path = template.format(**ids) if "{" in template else template
        results.append((template, who, run(clients[who], path)))
        print(harness.line(f"{template} ({who})", results[-1][2], width=46), file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--risks", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=50000)
    parser.add_argument("--graph-features", type=int, default=125)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--sqlite", metavar="FILE", help="a scratch SQLite file instead of PostgreSQL"
    )
    args = parser.parse_args()
    try:
        setup(args.sqlite)
        print("seeding...", file=sys.stderr)
        seed(args.models, args.risks, args.runs, args.graph_features)
        analyze()
        print("measuring (each page's line on stderr as it is done)...", file=sys.stderr)
        results = measure(args.requests)
    finally:
        from django.db import connections

        connections.close_all()
        if args.sqlite is None:
            harness.drop_database(DB)
        else:
            import os

            os.remove(args.sqlite)
    floor = results[0][2]["p95_ms"]
    print(
        f"console pages, demo story + {args.models} models, {args.risks} risks, "
        f"{args.runs} lineage runs ({'SQLite' if args.sqlite else 'PostgreSQL'}, "
        f"in-process test client, n={args.requests})"
    )
    for path, who, stats in results:
        label = f"{path} ({who})"
        print(
            harness.line(label, stats, width=46) + f"  p95 x{stats['p95_ms'] / floor:.1f} healthz"
        )
    worst = max(results[1:], key=lambda item: item[2]["p95_ms"])
    print(
        f"summary: worst p95 {worst[2]['p95_ms']:.1f} ms ({worst[0]} as {worst[1]}), "
        f"healthz p95 {floor:.2f} ms"
    )


if __name__ == "__main__":
    main()
