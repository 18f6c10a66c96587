"""The console's pages: p95 server time per page on the demo story plus bulk data,
against GET /healthz in the same run.

How to run (PostgreSQL on 127.0.0.1:5432 with trust auth):
    .venv/bin/python bench/console.py [--models 1000] [--risks 10000] [--runs 50000]
        [--requests 30]

It creates a scratch database ``bench_console``, migrates it, tells the demo story
(``seed_demo``), then adds ``--models`` models (three teams, one version each live in
staging, the team's object permissions as ``register_model`` grants them),
``--risks`` risks (a fifth linked to a bulk model, team permissions) and ``--runs``
lineage runs of one job, with bulk inserts (no audit events for the bulk rows). Each
page is asked ``--requests`` times in this process through Django's test client
(the whole request: middleware, permissions, queries, templates; no network), as
a board member (sees everything) and as an approver of one team (scoped through the
permission tables); the first three answers of each page are a warm-up and are
discarded. Prints median and p95 per page and its p95 ratio to /healthz's; drops
the database at the end. Other engineers' pages: add their paths to PAGES.
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


def seed(models: int, risks: int, runs: int) -> None:
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

    results = [("/healthz", "anonymous", run(anonymous, "/healthz"))]
    for path, who in PAGES:
        results.append((path, who, run(clients[who], path)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--risks", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=50000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--sqlite", metavar="FILE", help="a scratch SQLite file instead of PostgreSQL"
    )
    args = parser.parse_args()
    try:
        setup(args.sqlite)
        seed(args.models, args.risks, args.runs)
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
