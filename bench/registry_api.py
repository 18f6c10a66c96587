"""Model registry API: govreg against MLflow's model registry, same machine, same run.

How to run (PostgreSQL on 127.0.0.1:5432 with trust auth, python3 with venv):
    .venv/bin/python bench/registry_api.py [--rounds 5] [--per-round 60] [--workers 2]
        [--mlflow-venv DIR]   # reuse a virtualenv that has mlflow + psycopg2-binary
        [--no-mlflow]         # govreg only: its figures and its floor, no baseline

What it measures, through each server's REST API, sequential client, one new
TCP connection per request (``requests`` without a Session, ``Connection:
close``: a persistent session stalls MLflow ~40 ms per request on delayed ACK,
see BENCHMARKING.md):

  register  govreg  POST /api/model-versions/  {model, version, artifact_uri,
                    artifact_digest, training_run} (resolves the lineage run,
                    checks team permission, writes the hash-chained audit event)
            MLflow  POST /api/2.0/mlflow/model-versions/create {name, source}
  live      govreg  GET /api/deployments/?live=true&environment=production&model=M
            MLflow  GET /api/2.0/mlflow/registered-models/alias?name=M&alias=production

Both servers get the same data shape before counting: 20 models with 10
versions each, one version per model live in production (govreg deployment,
MLflow alias). govreg runs under gunicorn (sync workers), MLflow under its own
``mlflow server``; both with ``--workers`` processes and a PostgreSQL backend
(databases ``bench_registry`` and ``bench_registry_mlflow``, dropped at the
end). MLflow is installed with pip into a fresh virtualenv under a temporary
directory unless ``--mlflow-venv`` names one. Rounds alternate govreg and
MLflow (A B A B); the first round is a warm-up and is discarded. Prints
median, p95 and min-max per request, requests per second, the ratio
govreg/MLflow, govreg's floor for context (``/healthz``: no database work
beyond one SELECT; ``/api/me/``: bearer-token authentication and the
request transaction, which every API call pays; the ratio of the two), and a
one-line summary last.
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import harness
import requests

GOVREG_DB = "bench_registry"
MLFLOW_DB = "bench_registry_mlflow"
MODELS = 20
VERSIONS_PER_MODEL = 10


# --- govreg ---------------------------------------------------------------------------


SETUP_GOVREG = r"""
import json, sys, uuid
import django
django.setup()
from django.contrib.auth.models import Group
from accounts.roles import Role
from accounts.services import issue_token
from audit.context import acting_as
from lineage.services import ingest_event
from registry import services
from registry.models import DeploymentRequest, Environment
from django.contrib.auth import get_user_model

with acting_as(name="bench setup"):
    team, _ = Group.objects.get_or_create(name="bench-team")
    user = get_user_model().objects.create_user("bench-pipeline", "bench@example.com")
    user.groups.add(team, Group.objects.get_or_create(name=Role.PIPELINE)[0])
    _, token = issue_token(user, name="bench")
    run_id = str(uuid.uuid4())
    for kind, minute in (("START", "00"), ("COMPLETE", "20")):
        ingest_event({
            "eventType": kind, "eventTime": f"2026-01-05T06:{minute}:00+00:00",
            "producer": "https://example.com/bench", "run": {"runId": run_id, "facets": {}},
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "job": {"namespace": "bench", "name": "train", "facets": {}},
            "inputs": [{"namespace": "s3://bench", "name": "features", "facets": {"version": {
                "_producer": "https://example.com/bench",
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
                "datasetVersion": "md5:" + "ab" * 16}}}],
            "outputs": [],
        })
    production = Environment.objects.get(name="production")
    for m in range(int(sys.argv[1])):
        model = services.register_model(
            name=f"bench-model-{m:02d}", team=team, risk_tier="high",
            description="benchmark model")
        for v in range(1, int(sys.argv[2]) + 1):
            version = services.register_version(
                model=model, version=str(v), artifact_uri=f"s3://bench/{m}/{v}",
                artifact_digest="sha256:" + "cd" * 32, training_run=run_id, registered_by=user)
        # production takes a version only through an approved request (seeded as the
        # gate leaves it: the gate's own cost is not what this benchmark measures)
        approved = DeploymentRequest.objects.create(
            model_version=version, environment=production, requested_by=user,
            status="approved", fingerprint="0" * 64)
        services.deploy(version, production, user, deployment_request=approved)
print(json.dumps({"token": token, "run_id": run_id}))
"""


def start_govreg(workers: int) -> tuple[subprocess.Popen, str, dict]:
    env = harness.govreg_env(GOVREG_DB)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=harness.ROOT,
        env=env,
        check=True,
    )
    out = subprocess.run(
        [sys.executable, "-c", SETUP_GOVREG, str(MODELS), str(VERSIONS_PER_MODEL)],
        cwd=harness.ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    setup = json.loads(out.strip().splitlines()[-1])
    process, base = harness.start_govreg(env, workers)
    return process, base, setup


# --- MLflow ---------------------------------------------------------------------------


def mlflow_venv(given: str | None) -> tuple[Path, Path | None]:
    if given:
        return Path(given), None
    scratch = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    venv = scratch / "venv"
    print(f"installing mlflow into a fresh virtualenv ({venv}) ...", flush=True)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "mlflow", "psycopg2-binary"],
        check=True,
    )
    return venv, scratch


def start_mlflow(venv: Path, workers: int, artifacts: Path) -> tuple[subprocess.Popen, str]:
    port = harness.free_port()
    process = subprocess.Popen(
        [
            str(venv / "bin" / "mlflow"),
            "server",
            "--backend-store-uri",
            f"postgresql+psycopg2://{harness.dsn(MLFLOW_DB).split('://', 1)[1]}",
            "--default-artifact-root",
            str(artifacts),
            "--host",
            harness.HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://{harness.HOST}:{port}"
    harness.wait_http(base + "/health", process=process)
    return process, base


def mlflow_version(venv: Path) -> str:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# --- the two clients ------------------------------------------------------------------

CLOSE = {"Connection": "close"}


def post(url: str, body: dict, headers: dict) -> requests.Response:
    answer = requests.post(url, json=body, headers={**CLOSE, **headers}, timeout=30)
    if answer.status_code >= 300:
        raise RuntimeError(f"POST {url}: {answer.status_code} {answer.text[:300]}")
    return answer


def get(url: str, headers: dict) -> requests.Response:
    answer = requests.get(url, headers={**CLOSE, **headers}, timeout=30)
    if answer.status_code >= 300:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")
    return answer


class Govreg:
    name = "govreg"

    def __init__(self, base: str, token: str, run_id: str):
        self.base, self.run_id = base, run_id
        self.headers = {"Authorization": f"Bearer {token}"}
        self.counter = 0

    def register(self, index: int) -> None:
        model_index = index % MODELS
        self.counter += 1
        label = f"b{self.counter}"
        post(
            self.base + "/api/model-versions/",
            {
                "model": f"bench-model-{model_index:02d}",
                "version": label,
                "artifact_uri": f"s3://bench/{model_index}/{label}/model.tar.gz",
                "artifact_digest": "sha256:" + hashlib.sha256(label.encode()).hexdigest(),
                "training_run": self.run_id,
            },
            self.headers,
        )

    def health(self, index: int) -> None:
        get(self.base + "/healthz", {})

    def whoami(self, index: int) -> None:
        get(self.base + "/api/me/", self.headers)

    def live(self, index: int) -> None:
        model_index = index % MODELS
        body = get(
            self.base + "/api/deployments/?live=true&environment=production"
            f"&model=bench-model-{model_index:02d}",
            self.headers,
        ).json()
        assert body["results"][0]["version"] == str(VERSIONS_PER_MODEL), body


class MLflow:
    name = "MLflow"

    def __init__(self, base: str):
        self.base = base + "/api/2.0/mlflow"

    def setup(self) -> None:
        for m in range(MODELS):
            name = f"bench-model-{m:02d}"
            post(self.base + "/registered-models/create", {"name": name}, {})
            for v in range(1, VERSIONS_PER_MODEL + 1):
                post(
                    self.base + "/model-versions/create",
                    {"name": name, "source": f"s3://bench/{m}/{v}"},
                    {},
                )
            post(
                self.base + "/registered-models/alias",
                {"name": name, "alias": "production", "version": str(VERSIONS_PER_MODEL)},
                {},
            )

    def register(self, index: int) -> None:
        model_index = index % MODELS
        post(
            self.base + "/model-versions/create",
            {
                "name": f"bench-model-{model_index:02d}",
                "source": f"s3://bench/{model_index}/{uuid.uuid4().hex}/model.tar.gz",
            },
            {},
        )

    def live(self, index: int) -> None:
        model_index = index % MODELS
        body = get(
            self.base
            + f"/registered-models/alias?name=bench-model-{model_index:02d}&alias=production",
            {},
        ).json()
        assert body["model_version"]["version"] == str(VERSIONS_PER_MODEL), body


def line(label: str, stats: dict) -> str:
    return harness.line(label, stats, width=18, figures=6, rate=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds after one warm-up round")
    parser.add_argument("--per-round", type=int, default=60, help="requests per operation")
    parser.add_argument("--workers", type=int, default=2, help="server processes on each side")
    parser.add_argument("--mlflow-venv", help="virtualenv with mlflow and psycopg2-binary")
    parser.add_argument(
        "--no-mlflow",
        action="store_true",
        help="govreg only (no MLflow baseline: its figures and the floor ratio are printed)",
    )
    args = parser.parse_args()

    for db in (GOVREG_DB, MLFLOW_DB):
        harness.recreate_database(db)
    processes, scratch = [], None
    try:
        version = None
        if not args.no_mlflow:
            try:
                venv, scratch = mlflow_venv(args.mlflow_venv)
                version = mlflow_version(venv)
            except (subprocess.CalledProcessError, FileNotFoundError) as exc:
                print(f"MLflow could not be installed ({exc}); no baseline in this run.")
                return 1
        govreg_process, govreg_base, setup = start_govreg(args.workers)
        processes.append(govreg_process)
        sides = [Govreg(govreg_base, setup["token"], setup["run_id"])]
        if version is not None:
            artifacts = Path(tempfile.mkdtemp(prefix="bench-mlflow-artifacts-"))
            mlflow_process, mlflow_base = start_mlflow(venv, args.workers, artifacts)
            processes.append(mlflow_process)
            sides.append(MLflow(mlflow_base))
            sides[1].setup()

        against = (
            f"vs MLflow {version} (mlflow server, {args.workers} workers), both"
            if version
            else "alone (no MLflow baseline: --no-mlflow),"
        )
        print(
            f"registry_api: govreg (gunicorn, {args.workers} sync workers) {against} on "
            f"PostgreSQL; sequential client (requests), new connection per request; {MODELS} "
            f"models x {VERSIONS_PER_MODEL} versions before counting, one live in production "
            f"each; {args.rounds} rounds x {args.per_round} requests per operation after a "
            "warm-up."
        )
        results = {(s.name, op): [] for s in sides for op in ("register", "live")}
        floor = {"health": [], "whoami": []}
        for round_no in range(args.rounds + 1):
            for op in ("register", "live"):
                for side in sides:  # A B A B
                    latencies = harness.timed(getattr(side, op), args.per_round)
                    if round_no:
                        results[(side.name, op)].extend(latencies)
            for op in floor:
                latencies = harness.timed(getattr(sides[0], op), args.per_round // 3 or 1)
                if round_no:
                    floor[op].extend(latencies)

        summary = {}
        for op, title in (("register", "model-version registrations"), ("live", "live reads")):
            govreg_stats = harness.describe(results[("govreg", op)])
            print(f"{title}:")
            print(line("govreg", govreg_stats))
            if version is None:
                summary[op] = (govreg_stats, None, None)
                continue
            mlflow_stats = harness.describe(results[("MLflow", op)])
            ratio = govreg_stats["per_s"] / mlflow_stats["per_s"]
            summary[op] = (govreg_stats, mlflow_stats, ratio)
            print(line(f"MLflow {version}", mlflow_stats))
            print(f"  ratio govreg/MLflow (throughput): {ratio:.2f}x")
        print("govreg floor (context: what every request pays before the registry's work):")
        health, whoami = harness.describe(floor["health"]), harness.describe(floor["whoami"])
        print(line("GET /healthz", health))
        print(line("GET /api/me/", whoami))
        me_ratio = whoami["median_ms"] / health["median_ms"]
        me_p95_ratio = whoami["p95_ms"] / health["p95_ms"]
        print(f"  GET /api/me/ vs GET /healthz: median {me_ratio:.2f}x, p95 {me_p95_ratio:.2f}x")
        reg, live = summary["register"], summary["live"]
        if version is None:
            print(
                f"registry_api: register {reg[0]['per_s']:.0f}/s; live-in-production read "
                f"median {live[0]['median_ms']:.1f} ms = {live[0]['per_s']:.0f}/s (no MLflow "
                f"baseline); /api/me/ {me_ratio:.2f}x /healthz (median) at {MODELS} models, "
                "sequential, new connection per request"
            )
            return 0
        print(
            f"registry_api: register {reg[0]['per_s']:.0f}/s (MLflow {reg[1]['per_s']:.0f}/s, "
            f"ratio {reg[2]:.2f}x); live-in-production read median {live[0]['median_ms']:.1f} ms "
            f"= {live[0]['per_s']:.0f}/s (MLflow {live[1]['median_ms']:.1f} ms = "
            f"{live[1]['per_s']:.0f}/s, ratio {live[2]:.2f}x); /api/me/ {me_ratio:.2f}x /healthz "
            f"(median) at {MODELS} models, sequential, new connection per request"
        )
        return 0
    finally:
        for process in processes:
            harness.stop(process)
        for db in (GOVREG_DB, MLFLOW_DB):
            harness.drop_database(db)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
