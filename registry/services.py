"""Registry verbs: every change of a model, version, feature or deployment goes
through here, under a lock where two callers may race, with its audit event in
the same transaction.

A model version's training data is read from lineage on demand: the dataset
versions upstream of its training run, transitively. Nothing about it is typed
in by hand or copied, so a dataset version revoked tomorrow shows up in every
model version built on it at once.
"""

import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Subquery, UUIDField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from accounts import notify
from accounts.permissions import grant_team_access, visible
from audit.services import record, record_decision
from audit.tracking import create_tracked
from config.sql import JSONArray
from config.statements import Statement
from lineage import graph
from lineage.choices import VersionStatus
from lineage.models import DatasetVersion, Run
from lineage.queue import catch_up
from registry.choices import DeploymentState, ModelVersionStatus, RequestOutcome, RequestStatus
from registry.gate.checks import memoize
from registry.gate.exceptions import ProtectedEnvironment
from registry.models import (
    Deployment,
    DeploymentRequest,
    Environment,
    Feature,
    FeatureVersion,
    ImpactNotification,
    MLModel,
    ModelVersion,
)
from vocabulary.choices import PII_SENSITIVE
from vocabulary.models import Assignment

BLOCKING_DATASET_STATUSES = frozenset({VersionStatus.QUARANTINED, VersionStatus.REVOKED})

# Which status may follow which. Retired is final: a retired version never serves again.
VERSION_TRANSITIONS = {
    ModelVersionStatus.REGISTERED: {
        ModelVersionStatus.VALIDATED,
        ModelVersionStatus.DEPRECATED,
        ModelVersionStatus.RETIRED,
    },
    ModelVersionStatus.VALIDATED: {ModelVersionStatus.DEPRECATED, ModelVersionStatus.RETIRED},
    ModelVersionStatus.DEPRECATED: {ModelVersionStatus.VALIDATED, ModelVersionStatus.RETIRED},
    ModelVersionStatus.RETIRED: set(),
}


# --- models ---------------------------------------------------------------


def register_model(**fields) -> MLModel:
    """Create a model and give its owning team view, change, delete and approve rights on it."""
    with transaction.atomic():
        model = MLModel(**fields)
        model.full_clean()
        model.save()
        grant_team_access(model, model.team, actions=("view", "change", "delete", "approve"))
    return model


# --- versions -------------------------------------------------------------


def resolve_training_run(reference) -> Run:
    """The lineage run a pipeline names: its run id (UUID), or
    ``{"namespace": JOB_NAMESPACE, "job": JOB_NAME, "run_id": UUID}`` as OpenLineage
    identifies it. Unknown runs are a validation error on ``training_run``."""
    if isinstance(reference, Run):
        return reference
    catch_up()  # a run whose events are still queued is found (read your writes)
    job_filter = {}
    if isinstance(reference, dict):
        unknown = set(reference) - {"namespace", "job", "name", "run_id", "runId"}
        if unknown:
            raise ValidationError({"training_run": f"Unknown keys: {', '.join(sorted(unknown))}."})
        run_ref = reference.get("run_id") or reference.get("runId")
        namespace = reference.get("namespace")
        job_name = reference.get("job") or reference.get("name")
        if not (run_ref and namespace and job_name):
            raise ValidationError(
                {"training_run": "Give the run id, or namespace, job and run_id together."}
            )
        job_filter = {"job__namespace__name": namespace, "job__name": job_name}
    else:
        run_ref = reference
    try:
        run_uuid = uuid.UUID(str(run_ref))
    except (TypeError, ValueError, AttributeError):
        raise ValidationError({"training_run": f"{run_ref!r} is not a run id (a UUID)."})
    if job_filter:
        run = (
            Run.objects.select_related("job__namespace")
            .filter(run_id=run_uuid, **job_filter)
            .first()
        )
    else:
        run = RUN_BY_ID.first(run_id=run_uuid.hex)
    if run is None:
        where = ""
        if job_filter:
            where = f" of job {job_filter['job__namespace__name']}:{job_filter['job__name']}"
        raise ValidationError({"training_run": f"No lineage run {run_uuid}{where} is known."})
    return run


# Every registration names its run by id: read by a statement compiled once. The id is
# bound as 32 hex digits, which PostgreSQL's uuid and SQLite's char(32) both read.
RUN_BY_ID = Statement(
    lambda run_id: Run.objects.select_related("job__namespace").filter(
        run_id=Cast(Value(run_id), UUIDField())
    ),
    run_id=str,
)


def register_version(*, model: MLModel, registered_by=None, **fields) -> ModelVersion:
    """Record a trained artifact of ``model`` with the lineage run that produced it.

    A label already taken is a ``ValidationError`` on ``version``. The version and its
    audit event are one statement on PostgreSQL (``audit.tracking.create_tracked``), so
    the API's registration runs in no transaction of its own; in a caller's
    transaction the insert runs in a savepoint, so a caller that catches the error
    keeps its transaction."""
    if "training_run" in fields and fields["training_run"] is not None:
        fields["training_run"] = resolve_training_run(fields["training_run"])
    version = ModelVersion(model=model, registered_by=registered_by, **fields)
    # Related records given as saved instances were just read: no need to look them up again.
    version.full_clean(
        exclude=_saved_relations(version, ("model", "training_run", "registered_by"))
    )
    try:
        create_tracked(version)
    except IntegrityError as exc:
        # The label is taken (the unique constraint is checked by the database, not by a
        # query before the insert, which also covers concurrent registrations), or a
        # record it names was deleted since it was read (foreign keys are checked as the
        # write commits).
        text = str(exc).lower()
        if "unique" in text and "modelversion" in text:
            raise ValidationError({"version": "This model already has a version with this label."})
        if "foreign key" in text:
            raise ValidationError(
                {"model": "The model, its training run or your account was deleted meanwhile."}
            )
        raise
    return version


def _saved_relations(instance, names) -> list[str]:
    return [
        name
        for name in names
        if getattr(instance, f"{name}_id", None) is not None
        and getattr(getattr(instance, name), "pk", None) is not None
    ]


def change_version_status(version: ModelVersion, status: str, *, reason: str = "") -> ModelVersion:
    """Move a version along its life cycle. Retiring a version that serves is refused:
    replace or roll back its deployments first."""
    if status not in ModelVersionStatus.values:
        raise ValidationError({"status": f"{status!r} is not a version status."})
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status == status:
            return locked
        if status not in VERSION_TRANSITIONS[locked.status]:
            raise ValidationError({"status": f"A {locked.status} version cannot become {status}."})
        if status == ModelVersionStatus.RETIRED:
            live = list(
                locked.deployments.filter(state=DeploymentState.LIVE).values_list(
                    "environment__name", flat=True
                )
            )
            if live:
                raise ValidationError(
                    {"status": f"This version is live in {', '.join(live)}; replace it first."}
                )
        previous = locked.status
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        record_decision(
            "model_version.status", locked, previous=previous, status=status, reason=reason
        )
    version.status, version.updated_at = locked.status, locked.updated_at
    return locked


# What ``registry.personal_data`` reads of each training dataset version, loaded with
# it: whether PII.Sensitive tags the version, and the fields it tags on its dataset
# ("" for the whole dataset; None when none), as of ``PERSONAL_DATA_AS_OF``.
TAGGED_PERSONAL = "personal_data_tagged"
TAGGED_PERSONAL_FIELDS = "personal_data_dataset_fields"
PERSONAL_DATA_AS_OF = "_personal_data_as_of"


def personal_data_tags(as_of=None) -> dict:
    """The two annotations above, for a queryset of dataset versions."""
    classification, _, name = PII_SENSITIVE.partition(".")
    rows = Assignment.objects.filter(
        tag__classification__name__iexact=classification, tag__name__iexact=name
    )
    if as_of is not None:
        rows = rows.filter(created_at__lte=as_of)
    on_versions = rows.filter(
        content_type__app_label="lineage", content_type__model="datasetversion"
    )
    on_datasets = rows.filter(content_type__app_label="lineage", content_type__model="dataset")
    return {
        TAGGED_PERSONAL: Exists(on_versions.filter(object_id=OuterRef("pk"))),
        TAGGED_PERSONAL_FIELDS: Subquery(
            on_datasets.filter(object_id=OuterRef("dataset_id"))
            .order_by()
            .values("object_id")
            .annotate(fields=JSONArray("field"))
            .values("fields")
        ),
    }


def training_data(version: ModelVersion, *, as_of=None) -> list[DatasetVersion]:
    """Every dataset version upstream of the version's training run, transitively."""
    if version.training_run_id is None:
        return []

    def read():
        # lineage reads them with their dataset, namespace and producing run, and
        # what the personal-data rule needs of each (``registry.personal_data``); as of
        # now (every judgement) in one statement compiled once.
        if as_of is None:
            upstream = _TRAINING_DATA.all(run=version.training_run_id)
        else:
            upstream = graph.upstream_versions(
                [version.training_run_id], as_of=as_of, annotations=personal_data_tags(as_of)
            )
        for dv in upstream:
            setattr(dv, PERSONAL_DATA_AS_OF, as_of)
        return sorted(
            upstream, key=lambda dv: (dv.dataset.namespace.name, dv.dataset.name, dv.version)
        )

    # One gate judgement asks twice (training-data check, lineage fingerprint): read once.
    key = ("registry.training_data", version.pk, version.training_run_id, as_of)
    return list(memoize(key, read))


_TRAINING_DATA = Statement(
    lambda run: (
        DatasetVersion.objects.filter(pk__in=graph.upstream_of(run))
        .annotate(**personal_data_tags())
        .select_related("dataset__namespace", "producing_run")
    ),
    run=int,
)


@dataclass
class TrainingDataVerdict:
    complete: bool
    dataset_versions: list = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def training_data_verdict(version: ModelVersion) -> TrainingDataVerdict:
    """Complete when there is training data, each version has a content hash, and
    none is quarantined or revoked. ``problems`` names each offender."""
    versions = training_data(version)
    problems = []
    if version.training_run_id is None:
        problems.append("The version names no training run.")
    elif not versions:
        problems.append("Lineage knows no dataset version upstream of the training run.")
    for dv in versions:
        label = f"{dv.dataset.namespace.name}:{dv.dataset.name}@{dv.version}"
        if not dv.content_hash:
            problems.append(f"{label} has no content hash.")
        if dv.status in BLOCKING_DATASET_STATUSES:
            problems.append(f"{label} is {dv.status}.")
    return TrainingDataVerdict(complete=not problems, dataset_versions=versions, problems=problems)


def upstream_runs(version: ModelVersion, dataset_versions) -> list[Run]:
    """The training run and every run that produced one of its upstream dataset versions."""
    ids = {dv.producing_run_id for dv in dataset_versions if dv.producing_run_id}
    if version.training_run_id:
        ids.add(version.training_run_id)
    return list(
        Run.objects.filter(pk__in=ids)
        .select_related("job__namespace")
        .order_by("job__namespace__name", "job__name", "created_at")
    )


# --- features -------------------------------------------------------------


def register_feature(**fields) -> Feature:
    """Create a feature and give its owning team its rights on it."""
    with transaction.atomic():
        feature = Feature(**fields)
        feature.full_clean()
        feature.save()
        grant_team_access(feature, feature.team)
    return feature


def add_feature_version(*, feature: Feature, source_dataset_versions=(), **fields):
    """A new definition of ``feature`` computed from ``source_dataset_versions``."""
    feature_version = FeatureVersion(feature=feature, **fields)
    feature_version.full_clean()
    with transaction.atomic():
        feature_version.save()
        feature_version.source_dataset_versions.set(source_dataset_versions)
    return feature_version


# --- deployments ----------------------------------------------------------


def deploy(
    model_version: ModelVersion,
    environment: Environment,
    user,
    *,
    deployment_request=None,
    note: str = "",
    now=None,
) -> Deployment:
    """Make ``model_version`` the live version of its model in ``environment``.

    A protected environment (production) takes a version only through an approved
    deployment request for exactly that version and environment: without one this
    raises ``ProtectedEnvironment``, whoever calls (API, admin, board, CLI, a task, a
    shell), so no path goes around the gate. The request's row is locked and read
    again here, so a stale or hand-built request object proves nothing.

    The model's row is locked, so concurrent deploys of one model queue; the
    live deployment it replaces becomes superseded, or rolled back when the new
    one is an earlier version that already served there. Deploying what is
    already live returns that deployment unchanged (unless another deployment
    request ships it again: then it is a new deployment). The gate links its
    request to the returned deployment. The database's conditional
    unique constraint guards "one live deployment per model and environment".
    """
    now = now or timezone.now()
    with transaction.atomic():
        MLModel.objects.select_for_update().filter(pk=model_version.model_id).first()
        version = ModelVersion.objects.select_related("model").get(pk=model_version.pk)
        if version.status == ModelVersionStatus.RETIRED:
            raise ValidationError({"model_version": f"{version} is retired and may not serve."})
        current = (
            Deployment.objects.select_for_update()
            .filter(model_id=version.model_id, environment=environment, state=DeploymentState.LIVE)
            .first()
        )
        if environment.protected:
            shipped = _approved_request(version, environment, deployment_request)
            if shipped is not None:
                if current is not None and current.pk == shipped:
                    return current  # the same request reported again
                raise ProtectedEnvironment(
                    f"Deployment request #{deployment_request.pk} has shipped already; "
                    "ask the gate again."
                )
        if current is not None and current.model_version_id == version.pk:
            current_request = getattr(current, "deployment_request", None)
            if deployment_request is None or current_request == deployment_request:
                return current
            # Another approved request ships the version already serving: a redeploy,
            # recorded as its own deployment that supersedes the running one.
        rollback_of = None
        if current is not None:
            served_before = (
                current.model_version_id != version.pk
                and Deployment.objects.filter(
                    model_id=version.model_id,
                    environment=environment,
                    model_version=version,
                    deployed_at__lte=current.deployed_at,
                ).exists()
            )
            rollback_of = current if served_before else None
            current.state = (
                DeploymentState.ROLLED_BACK if served_before else DeploymentState.SUPERSEDED
            )
            current.ended_at = now
            current.save(update_fields=["state", "ended_at"])
        deployment = Deployment(
            model=version.model,
            model_version=version,
            environment=environment,
            state=DeploymentState.LIVE,
            deployed_by=user if getattr(user, "is_authenticated", False) else None,
            deployed_at=now,
            replaced=current,
            rollback_of=rollback_of,
            note=note,
        )
        deployment.full_clean(validate_constraints=False)
        deployment.save()
        record_decision(
            "deployment.rollback" if rollback_of else "deployment.live",
            deployment,
            model=version.model.name,
            version=version.version,
            environment=environment.name,
            replaced=current.pk if current else None,
            deployment_request=getattr(deployment_request, "pk", None),
        )
    return deployment


def _approved_request(version, environment, deployment_request) -> int | None:
    """Refuse unless ``deployment_request`` is approved for exactly this version and
    environment (read again under its row lock). Returns the id of the deployment it
    already shipped, if it has (the caller decides whether that is a repeat)."""
    where = (
        f"{environment.name} is protected: it takes a version only through an approved "
        "deployment request"
    )
    if deployment_request is None or deployment_request.pk is None:
        raise ProtectedEnvironment(
            f"{where}. Ask the gate (POST /api/deployment-requests/, or "
            "POST /api/models/ID/rollback for a rollback) and report the approved request "
            "deployed."
        )
    row = (
        DeploymentRequest.objects.select_for_update()
        .filter(pk=deployment_request.pk)
        .values("status", "outcome", "model_version_id", "environment_id", "deployment_id")
        .first()
    )
    if row is None:
        raise ProtectedEnvironment(f"{where}; request #{deployment_request.pk} does not exist.")
    if row["model_version_id"] != version.pk or row["environment_id"] != environment.pk:
        raise ProtectedEnvironment(
            f"{where} for exactly that version and environment; request "
            f"#{deployment_request.pk} asked for another."
        )
    if row["status"] != RequestStatus.APPROVED:
        raise ProtectedEnvironment(f"{where}; request #{deployment_request.pk} is {row['status']}.")
    if row["outcome"] == RequestOutcome.DEPLOYED:
        return row["deployment_id"]
    return None


def previous_deployment(deployment: Deployment) -> Deployment | None:
    """The deployment live in the same environment before ``deployment``, of a
    different version and not failed: what a rollback puts back."""
    if (
        deployment.replaced_id
        and deployment.replaced.model_version_id != deployment.model_version_id
        and deployment.replaced.state != DeploymentState.FAILED
    ):
        return deployment.replaced
    return (
        Deployment.objects.select_related("model_version")
        .filter(
            model_id=deployment.model_id,
            environment_id=deployment.environment_id,
            deployed_at__lt=deployment.deployed_at,
        )
        .exclude(model_version_id=deployment.model_version_id)
        .exclude(state=DeploymentState.FAILED)
        .order_by("-deployed_at", "-pk")
        .first()
    )


def rollback_target(model: MLModel, environment: Environment) -> tuple[Deployment, ModelVersion]:
    """The live deployment of ``model`` in ``environment`` and the version a rollback
    puts back. Nothing live or nothing before it is a validation error."""
    current = (
        Deployment.objects.select_related("replaced__model_version", "model_version")
        .filter(model=model, environment=environment, state=DeploymentState.LIVE)
        .first()
    )
    if current is None:
        raise ValidationError({"environment": f"Nothing of {model} is live in {environment}."})
    previous = previous_deployment(current)
    if previous is None:
        raise ValidationError(
            {"environment": f"No earlier version of {model} served in {environment}."}
        )
    return current, previous.model_version


def served_before(model_version: ModelVersion, environment: Environment) -> Deployment | None:
    """The latest deployment of ``model_version`` in ``environment`` that was live
    there and did not fail; in a protected environment only one shipped by an
    approved deployment request counts. What makes a version eligible for rollback."""
    deployments = Deployment.objects.filter(
        model_version=model_version, environment=environment
    ).exclude(state=DeploymentState.FAILED)
    if environment.protected:
        deployments = deployments.filter(
            deployment_request__status=RequestStatus.APPROVED,
            deployment_request__outcome=RequestOutcome.DEPLOYED,
        )
    return deployments.order_by("-deployed_at", "-pk").first()


def rollback_refusal(model_version: ModelVersion, environment: Environment) -> str | None:
    """Why ``model_version`` cannot be rolled back to in ``environment``, or None: a
    rollback puts back a version that was approved and live there before (see
    ``served_before``) and is not live there now."""
    if served_before(model_version, environment) is None:
        return (
            f"{model_version} was never approved and live in {environment.name}; a rollback "
            "only puts back a version that served there. Ask for a deployment instead."
        )
    live = Deployment.objects.filter(
        model_version=model_version, environment=environment, state=DeploymentState.LIVE
    ).exists()
    if live:
        return f"{model_version} is live in {environment.name} now; there is nothing to roll back."
    return None


def rollback(model: MLModel, environment: Environment, user, *, note: str = "") -> Deployment:
    """Put back the version the live deployment replaced, in an unprotected
    environment. A protected one refuses: there a rollback is a deployment request
    of kind rollback that the gate judges (``registry.gate.services.request_rollback``)."""
    if environment.protected:
        raise ProtectedEnvironment(
            f"{environment.name} is protected: a rollback there is a rollback request the "
            "gate judges (POST /api/models/ID/rollback asks for one)."
        )
    _, version = rollback_target(model, environment)
    return deploy(version, environment, user, note=note)


def end_deployment(deployment: Deployment, state: str, *, reason: str = "", now=None):
    """Take a live deployment down as failed (or rolled back with nothing to restore)."""
    if state not in {DeploymentState.FAILED, DeploymentState.ROLLED_BACK}:
        raise ValidationError({"state": "A deployment ends as failed or rolled_back."})
    now = now or timezone.now()
    with transaction.atomic():
        changed = Deployment.objects.filter(pk=deployment.pk, state=DeploymentState.LIVE).update(
            state=state, ended_at=now
        )
        if changed != 1:
            raise ValidationError({"state": "Only a live deployment can end."})
        deployment.refresh_from_db()
        record_decision("deployment.ended", deployment, state=state, reason=reason)
    return deployment


def live_deployments_queryset():
    return (
        Deployment.objects.filter(state=DeploymentState.LIVE)
        .select_related("model_version", "environment", "model", "deployed_by")
        .order_by("environment__order")
    )


def live_deployments(model: MLModel):
    """What of ``model`` serves now, one deployment per environment at most."""
    return live_deployments_queryset().filter(model=model)


# --- impact ---------------------------------------------------------------


@dataclass
class Impact:
    dataset_version: DatasetVersion
    model_versions: list = field(default_factory=list)
    deployments: list = field(default_factory=list)
    feature_versions: list = field(default_factory=list)


def impact(dataset_version: DatasetVersion, user=None) -> Impact:
    """Every model version trained (transitively) on ``dataset_version`` and every live
    deployment of one. With ``user``, only what that user may see."""
    run_ids = graph.downstream_run_ids([dataset_version.pk])
    versions = ModelVersion.objects.filter(training_run_id__in=run_ids)
    features = FeatureVersion.objects.filter(source_dataset_versions=dataset_version)
    if user is not None:
        versions = versions.filter(model__in=visible(MLModel.objects.all(), user).values("pk"))
        features = features.filter(feature__in=visible(Feature.objects.all(), user).values("pk"))
    versions = list(
        versions.select_related("model__team", "training_run__job__namespace").order_by(
            "model__name", "version"
        )
    )
    deployments = list(
        Deployment.objects.filter(
            model_version__in=[v.pk for v in versions], state=DeploymentState.LIVE
        )
        .select_related("model", "model_version", "environment")
        .order_by("model__name", "environment__order")
    )
    return Impact(
        dataset_version=dataset_version,
        model_versions=versions,
        deployments=deployments,
        feature_versions=list(features.select_related("feature").order_by("feature__name")),
    )


def _dataset_label(dv: DatasetVersion) -> str:
    return f"{dv.dataset.namespace.name}:{dv.dataset.name}@{dv.version}"


def notify_impact(dataset_version_id: int, status: str) -> dict:
    """Tell each team whose model versions were built on a dataset version that it is now
    quarantined or revoked: one mail per team. The ``ImpactNotification`` row per
    (dataset version, status, team) is the notice (``accounts.notify``): it is created
    in its own transaction before the mail goes out, so running this again sends
    nothing twice; a mail server failure removes it again and raises, so the task's
    retry sends it."""
    dv = (
        DatasetVersion.objects.select_related("dataset__namespace")
        .filter(pk=dataset_version_id)
        .first()
    )
    if dv is None or dv.status != status or status not in BLOCKING_DATASET_STATUSES:
        return {"notified": [], "skipped": "the dataset version is not (or no longer) " + status}
    found = impact(dv)
    by_team: dict = {}
    for version in found.model_versions:
        by_team.setdefault(version.model.team, []).append(version)
    notified = []
    for team, versions in sorted(by_team.items(), key=lambda item: item[0].name):
        version_ids = {v.pk for v in versions}
        deployments = [
            f"{d.model.name}@{d.model_version.version} in {d.environment.name}"
            for d in found.deployments
            if d.model_version_id in version_ids
        ]
        recipients = notify.group_emails(team)
        try:
            with transaction.atomic():
                notice = ImpactNotification.objects.create(
                    dataset_version=dv,
                    status=status,
                    team=team,
                    model_versions=[str(v) for v in versions],
                    deployments=deployments,
                    recipients=recipients,
                )
        except IntegrityError:
            continue  # told before (or by a worker racing this one)
        mail = notify.compose(
            "registry/mail/impact",
            {
                "dataset_version": dv,
                "dataset_label": _dataset_label(dv),
                "status": status,
                "team": team,
                "versions": versions,
                "deployments": deployments,
                "details_url": notify.link(
                    "impact",
                    query={
                        "namespace": dv.dataset.namespace.name,
                        "name": dv.dataset.name,
                        "version": dv.version,
                    },
                ),
            },
            recipients,
        )
        notify.deliver(mail, release=notice.delete, raise_errors=True)
        record(
            "registry.impact.notified",
            obj=dv,
            after={
                "status": status,
                "team": team.name,
                "model_versions": notice.model_versions,
                "deployments": notice.deployments,
                "recipients": recipients,
            },
        )
        notified.append(team.name)
    return {"notified": notified}
