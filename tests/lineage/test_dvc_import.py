"""import_dvc against a real DVC repository built in the test with git and dvc."""

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from lineage import graph
from lineage.models import DatasetVersion, Job, LineageEvent, Run, RunInput, RunOutput
from lineage.services import ingest_event
from lineage.tasks import import_dvc_task
from tests.lineage.factories import dataset, run_event

pytestmark = pytest.mark.django_db
DVC = str(Path(sys.executable).with_name("dvc"))
PREPARE = """\
import csv
rows = list(csv.reader(open("data/raw.csv")))
with open("data/train.csv", "w", newline="") as out:
    csv.writer(out).writerows([r for r in rows if r[-1] != "0"])
"""


def sh(repo: Path, *args: str) -> str:
    return subprocess.run(
        args, cwd=repo, check=True, capture_output=True, text=True, timeout=120
    ).stdout


def git_commit(repo: Path, message: str) -> str:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", message)
    return sh(repo, "git", "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def built_repo(tmp_path_factory):
    """Built once per module (dvc commands take seconds); each test works on a copy."""
    repo = tmp_path_factory.mktemp("dvc") / "credit-data"
    (repo / "data").mkdir(parents=True)
    (repo / "src").mkdir()
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "ci@example.com")
    sh(repo, "git", "config", "user.name", "CI")
    sh(repo, DVC, "init", "-q")
    (repo / "data" / "raw.csv").write_text("id,amount,approved\n1,100,1\n2,250,0\n3,75,1\n")
    (repo / "src" / "prepare.py").write_text(PREPARE)
    sh(repo, DVC, "add", "-q", "data/raw.csv")
    sh(
        repo, DVC, "stage", "add", "-q", "-n", "prepare",
        "-d", "src/prepare.py", "-d", "data/raw.csv", "-o", "data/train.csv",
        f"{sys.executable} src/prepare.py",
    )  # fmt: skip
    sh(repo, DVC, "repro", "-q")
    first = git_commit(repo, "first data")
    return repo, first


@pytest.fixture
def dvc_repo(built_repo, tmp_path):
    source, first = built_repo
    repo = tmp_path / "credit-data"
    shutil.copytree(source, repo, symlinks=True)
    return repo, first


def lock_md5s(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    stage = lock["stages"]["prepare"]
    return {entry["path"]: entry["md5"] for entry in stage["deps"] + stage["outs"]}


def change_data_and_repro(repo: Path) -> str:
    with open(repo / "data" / "raw.csv", "a") as raw:
        raw.write("4,500,1\n")
    sh(repo, DVC, "add", "-q", "data/raw.csv")
    sh(repo, DVC, "repro", "-q")
    return git_commit(repo, "more data")


def test_outputs_become_versions_by_md5_and_stages_become_jobs_with_runs(dvc_repo):
    repo, first = dvc_repo
    call_command("import_dvc", str(repo), namespace="credit", rev=first)

    md5 = lock_md5s(repo)
    train = DatasetVersion.objects.get(dataset__name="data/train.csv")
    raw = DatasetVersion.objects.get(dataset__name="data/raw.csv")
    assert train.version == f"md5:{md5['data/train.csv']}"
    assert raw.version == f"md5:{md5['data/raw.csv']}"
    assert train.dataset.namespace.name == "credit"
    job = Job.objects.get(name="dvc.yaml:prepare")
    run = Run.objects.get(job=job)
    assert train.producing_run == run
    assert {e.dataset_version.dataset.name for e in RunInput.objects.filter(run=run)} == {
        "data/raw.csv",
        "src/prepare.py",
    }
    assert RunOutput.objects.get(run=run).dataset_version == train


def test_importing_the_same_revision_twice_changes_nothing(dvc_repo):
    repo, first = dvc_repo
    call_command("import_dvc", str(repo), namespace="credit", rev=first)
    counts = [m.objects.count() for m in (LineageEvent, DatasetVersion, Run, RunInput, RunOutput)]
    call_command("import_dvc", str(repo), namespace="credit", rev=first)
    call_command("import_dvc", str(repo), namespace="credit")  # the workspace is that revision
    again = [m.objects.count() for m in (LineageEvent, DatasetVersion, Run, RunInput, RunOutput)]
    assert again == counts


def test_after_data_change_and_repro_new_versions_are_linked_by_lineage(dvc_repo):
    repo, first = dvc_repo
    call_command("import_dvc", str(repo), namespace="credit", rev=first)
    old_md5 = lock_md5s(repo)
    second = change_data_and_repro(repo)
    new_md5 = lock_md5s(repo)
    assert new_md5["data/train.csv"] != old_md5["data/train.csv"]

    call_command("import_dvc", str(repo), namespace="credit", rev=second)

    versions = set(
        DatasetVersion.objects.filter(dataset__name="data/train.csv").values_list(
            "version", flat=True
        )
    )
    assert versions == {f"md5:{old_md5['data/train.csv']}", f"md5:{new_md5['data/train.csv']}"}
    new_train = DatasetVersion.objects.get(version=f"md5:{new_md5['data/train.csv']}")
    upstream = {v.version for v in graph.upstream_versions([new_train.producing_run_id])}
    assert f"md5:{new_md5['data/raw.csv']}" in upstream
    assert f"md5:{old_md5['data/raw.csv']}" not in upstream
    assert Run.objects.filter(job__name="dvc.yaml:prepare").count() == 2
    # the older revision still answers with its own versions
    old_raw = DatasetVersion.objects.get(version=f"md5:{old_md5['data/raw.csv']}")
    old_runs = graph.downstream_run_ids([old_raw.pk])
    assert old_runs == {
        DatasetVersion.objects.get(version=f"md5:{old_md5['data/train.csv']}").producing_run_id
    }


def test_an_openlineage_event_with_the_same_md5_lands_on_the_same_version(dvc_repo):
    repo, first = dvc_repo
    call_command("import_dvc", str(repo), namespace="credit", rev=first)
    md5 = lock_md5s(repo)["data/train.csv"]
    before = DatasetVersion.objects.count()

    result = ingest_event(
        run_event(
            job="train_scorecard",
            namespace="credit",
            run_id=str(uuid.uuid4()),
            inputs=[dataset("data/train.csv", namespace="credit", version=f"md5:{md5}")],
        )
    )
    assert DatasetVersion.objects.count() == before
    assert result.inputs[0] == DatasetVersion.objects.get(version=f"md5:{md5}")
    upstream = {v.dataset.name for v in graph.upstream_versions([result.run.pk])}
    assert upstream == {"data/train.csv", "data/raw.csv", "src/prepare.py"}


def test_the_celery_task_imports_too(dvc_repo):
    repo, first = dvc_repo
    summary = import_dvc_task.delay(str(repo), "credit", first).get()
    assert summary["stages"] == ["dvc.yaml:prepare"]
    assert summary["outputs"]["data/train.csv"].startswith("md5:")


def test_the_api_queues_the_import_for_allowed_roots(
    dvc_repo, pipeline, settings, django_capture_on_commit_callbacks
):
    repo, _ = dvc_repo
    url = "/api/lineage/dvc-imports"
    assert pipeline.post(url, {"path": str(repo)}, format="json").status_code == 403  # off
    settings.GOVREG_LINEAGE_DVC_ROOTS = [str(repo.parent)]
    outside = pipeline.post(url, {"path": "/etc"}, format="json")
    assert outside.status_code == 400
    assert "path" in outside.json()["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        response = pipeline.post(url, {"path": str(repo), "namespace": "credit"}, format="json")
    assert response.status_code == 202
    assert DatasetVersion.objects.filter(dataset__name="data/train.csv").exists()


def test_not_a_dvc_repository_is_a_clear_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a DVC repository"):
        call_command("import_dvc", str(tmp_path))
