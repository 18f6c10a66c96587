"""MLflow registry sync: import registered models, their versions and aliases from an
MLflow tracking server (``GOVREG_MLFLOW_TRACKING_URI``), and see models promoted around
the gate.

Read with MLflow's own client (``MlflowClient`` from ``mlflow-skinny``), written through
the registry's services, so every model, version and link it creates or changes is an
audit event, plus one ``mlflow.sync`` decision per registered model that changed. Each
registered model is one transaction: when MLflow stops answering half-way, what was
imported before stays, and the next sync goes on from there. Running it again on the
same MLflow state changes nothing and writes no audit event.

- A model's team is the MLflow registered model's tag ``GOVREG_MLFLOW_TEAM_TAG``
  (``govreg.team``), else ``GOVREG_MLFLOW_TEAM``; with neither, the model is not
  imported (the report says why). Its risk tier is the tag ``govreg.risk_tier``, else
  ``GOVREG_MLFLOW_RISK_TIER``. A govreg model of the same name is linked, not copied.
- A version keeps MLflow's identity (name and number), source, run id, tags and
  description (``MLflowVersionLink``). MLflow keeps no content digest: the version tag
  ``govreg.artifact_digest`` (``sha256:…``) gives one, else the digest says none is
  known (``mlflow-version:NAME/N``). A run id that is a lineage run's id (an
  OpenLineage-emitting training job) becomes its training run.
- Aliases are remembered (``MLflowAlias``) with the version they point at. When one
  that ``GOVREG_MLFLOW_ALIAS_ENVIRONMENTS`` maps to an environment moves to a version
  govreg has not approved there (``approved_for``), ``ungoverned_alias`` is sent in
  the same transaction; playbooks raises the critical ``ungoverned-deployment`` signal
  (``playbooks.mlflow``), once per move.
"""

import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.text import slugify

from accounts.roles import teams
from audit.services import record_decision
from lineage.models import Run
from lineage.services import ingest_event
from registry import services
from registry.choices import DeploymentState, RequestOutcome, RequestStatus, RiskTier
from registry.models import (
    Deployment,
    DeploymentRequest,
    Environment,
    MLflowAlias,
    MLflowModelLink,
    MLflowVersionLink,
    MLModel,
    ModelVersion,
)

log = logging.getLogger(__name__)

RISK_TIER_TAG = "govreg.risk_tier"
DIGEST_TAG = "govreg.artifact_digest"
READY = "READY"
PRODUCER = "urn:govreg:registry:sync_mlflow"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PAGE = 100

# Sent in the sync's transaction when a watched alias moved to a version govreg has not
# approved for the alias's environment. Keyword arguments: ``alias`` (MLflowAlias),
# ``model_version``, ``environment``, ``previous_version`` (MLflow's number or ""), ``now``.
ungoverned_alias = Signal()


class MLflowSyncError(Exception):
    """The sync cannot run or could not go on (its message says why)."""


class MLflowNotConfigured(MLflowSyncError):
    pass


class MLflowUnavailable(MLflowSyncError):
    """The tracking server did not answer, or refused what was asked."""


class Skip(Exception):
    """This registered model (or version) is not imported; the message says why."""


@dataclass
class ModelOutcome:
    """What one registered model's sync did."""

    mlflow_name: str
    model: str = ""
    created: bool = False
    model_updated: bool = False
    versions_created: list[str] = field(default_factory=list)
    versions_updated: list[str] = field(default_factory=list)
    aliases_moved: list[str] = field(default_factory=list)
    ungoverned: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.model_updated
            or self.versions_created
            or self.versions_updated
            or self.aliases_moved
        )

    def line(self) -> str:
        if self.skipped:
            return f"{self.mlflow_name}: not imported: {self.skipped}"
        parts = []
        if self.created:
            parts.append(f"imported as {self.model}")
        if self.model_updated:
            parts.append("description or tags updated")
        if self.versions_created:
            parts.append("new versions " + ", ".join(self.versions_created))
        if self.versions_updated:
            parts.append("updated versions " + ", ".join(self.versions_updated))
        if self.aliases_moved:
            parts.append("aliases " + ", ".join(self.aliases_moved))
        if self.ungoverned:
            parts.append("UNGOVERNED " + ", ".join(self.ungoverned))
        parts += self.problems
        return f"{self.mlflow_name} -> {self.model}: " + ("; ".join(parts) or "unchanged")


@dataclass
class SyncReport:
    tracking_uri: str
    models: list[ModelOutcome] = field(default_factory=list)
    stopped: str = ""  # why the sync stopped early (MLflow unreachable), else ""

    @property
    def changed(self) -> int:
        return sum(1 for m in self.models if m.changed)

    def as_dict(self) -> dict:
        return {
            "tracking_uri": self.tracking_uri,
            "models": len(self.models),
            "changed": self.changed,
            "ungoverned": sum(len(m.ungoverned) for m in self.models),
            "skipped": sum(1 for m in self.models if m.skipped),
            "stopped": self.stopped,
        }


# --- reading MLflow ---------------------------------------------------------------------


def client(tracking_uri: str | None = None):
    """MLflow's client for the tracking server (its model registry is on the same
    server). MLflow's own variables apply (``MLFLOW_TRACKING_TOKEN``, ...); unless they
    say otherwise, a request gives up after 10 s and 2 retries, so an unreachable
    server fails a sync in seconds, not minutes, and MLflow's usage telemetry is off."""
    uri = tracking_uri or settings.GOVREG_MLFLOW_TRACKING_URI
    if not uri:
        raise MLflowNotConfigured(
            "GOVREG_MLFLOW_TRACKING_URI is not set: the MLflow registry sync is off."
        )
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    # govreg talks to the tracking server only, not to MLflow's usage telemetry.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient  # the client loads only when the sync runs

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _ask(uri: str, what: str, call):
    """``call()``, with any failure of MLflow (refused, unreachable, an error answer)
    turned into ``MLflowUnavailable`` naming the server and what was asked."""
    import requests
    from mlflow.exceptions import MlflowException

    try:
        return call()
    except (MlflowException, requests.RequestException) as exc:
        cause = str(getattr(exc, "message", exc)).strip().splitlines()[0][:500]
        raise MLflowUnavailable(f"MLflow at {uri} could not {what}: {cause}") from exc


def _pages(uri: str, what: str, fetch) -> list:
    items, token = [], None
    while True:
        page = _ask(uri, what, lambda token=token: fetch(token))
        items += list(page)
        token = getattr(page, "token", None)
        if not token:
            return items


def _registered_model(uri: str, mlflow, name: str):
    """The registered model ``name``, or None when MLflow has none of that name."""
    from mlflow.exceptions import MlflowException

    def read():
        try:
            return mlflow.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    return _ask(uri, f"read registered model {name!r}", read)


def _versions(uri: str, mlflow, name: str) -> list:
    quote = '"' if "'" in name else "'"
    return _pages(
        uri,
        f"list the versions of {name!r}",
        lambda token: mlflow.search_model_versions(
            filter_string=f"name = {quote}{name}{quote}", max_results=PAGE, page_token=token
        ),
    )


# --- the sync ---------------------------------------------------------------------------


def sync(names=None, *, tracking_uri: str | None = None, now=None) -> SyncReport:
    """Import every registered model of the tracking server (or those in ``names``).
    An unreachable server stops the sync (``report.stopped`` says why); the models
    synced before stay imported."""
    mlflow = client(tracking_uri)
    uri = tracking_uri or settings.GOVREG_MLFLOW_TRACKING_URI
    report = SyncReport(tracking_uri=uri)
    now = now or timezone.now()
    try:
        if names is None:
            registered = _pages(
                uri,
                "list registered models",
                lambda token: mlflow.search_registered_models(max_results=PAGE, page_token=token),
            )
        else:
            registered = []
            for name in names:
                found = _registered_model(uri, mlflow, name)
                if found is None:
                    report.models.append(ModelOutcome(name, skipped="no such model in MLflow"))
                else:
                    registered.append(found)
        for registered_model in registered:
            versions = _versions(uri, mlflow, registered_model.name)
            report.models.append(sync_model(registered_model, versions, uri=uri, now=now))
    except MLflowUnavailable as exc:
        report.stopped = str(exc)
        log.warning("MLflow sync stopped: %s", exc)
    return report


def sync_model(registered_model, versions, *, uri: str, now) -> ModelOutcome:
    """One registered model with its versions and aliases, in one transaction."""
    outcome = ModelOutcome(registered_model.name)
    try:
        with transaction.atomic():
            _sync_model(registered_model, versions, outcome, uri, now)
    except Skip as exc:
        outcome.skipped = str(exc)
    except IntegrityError:  # a concurrent sync linked it first: the next one goes on
        outcome = ModelOutcome(
            registered_model.name,
            skipped="changed by a concurrent sync while it was imported; the next sync goes on",
        )
    return outcome


def _sync_model(rm, versions, outcome: ModelOutcome, uri: str, now) -> None:
    link = (
        MLflowModelLink.objects.select_for_update()
        .select_related("model")
        .filter(mlflow_name=rm.name)
        .first()
    )
    description, tags = rm.description or "", dict(rm.tags or {})
    if link is None:
        link = MLflowModelLink.objects.create(
            model=_govreg_model(rm, outcome),
            mlflow_name=rm.name,
            description=description,
            tags=tags,
        )
        outcome.created = True
    elif (link.description, link.tags) != (description, tags):
        link.description, link.tags = description, tags
        link.save(update_fields=["description", "tags"])
        outcome.model_updated = True
    outcome.model = link.model.name
    linked = {v.mlflow_version: v for v in link.versions.select_related("model_version")}
    for mv in sorted(versions, key=lambda v: int(v.version)):
        if mv.status != READY:
            if mv.version not in linked:
                outcome.problems.append(f"version {mv.version} is {mv.status}, not imported yet")
            continue
        try:
            linked[mv.version] = _sync_version(link, linked.get(mv.version), mv, outcome, uri)
        except Skip as exc:
            outcome.problems.append(f"version {mv.version} not imported: {exc}")
    _sync_aliases(link, dict(rm.aliases or {}), linked, outcome, now)
    if outcome.changed:
        record_decision(
            "mlflow.sync",
            link,
            tracking_uri=uri,
            mlflow_name=rm.name,
            model=link.model.name,
            created=outcome.created,
            model_updated=outcome.model_updated,
            versions_created=outcome.versions_created,
            versions_updated=outcome.versions_updated,
            aliases_moved=outcome.aliases_moved,
            ungoverned=outcome.ungoverned,
        )


def govreg_name(mlflow_name: str) -> str:
    """The govreg model name for an MLflow name: itself when it is a slug, else its slug."""
    try:
        validate_slug(mlflow_name)
        if len(mlflow_name) <= 100:
            return mlflow_name
    except ValidationError:
        pass
    return slugify(mlflow_name)[:100].strip("-")


def _govreg_model(rm, outcome: ModelOutcome) -> MLModel:
    """The govreg model an unlinked registered model becomes: the one of the same name
    (linked as it is), else a new one of the team the tags or the settings name."""
    name = govreg_name(rm.name)
    if not name:
        raise Skip(f"{rm.name!r} gives no usable govreg model name")
    existing = MLModel.objects.filter(name=name).first()
    if existing is not None:
        other = MLflowModelLink.objects.filter(model=existing).first()
        if other is not None:
            raise Skip(f"govreg model {name} is linked to MLflow model {other.mlflow_name!r}")
        outcome.problems.append(f"linked to the existing govreg model {name}")
        return existing
    tags = rm.tags or {}
    team_tag = settings.GOVREG_MLFLOW_TEAM_TAG
    team_name = tags.get(team_tag) or settings.GOVREG_MLFLOW_TEAM
    if not team_name:
        raise Skip(f"no team: set the MLflow tag {team_tag} or GOVREG_MLFLOW_TEAM")
    team = teams().filter(name=team_name).first()
    if team is None:
        raise Skip(f"team {team_name!r} does not exist in govreg")
    tier = tags.get(RISK_TIER_TAG) or settings.GOVREG_MLFLOW_RISK_TIER
    if tier not in RiskTier.values:
        raise Skip(
            f"tag {RISK_TIER_TAG} {tier!r} is not a risk tier ({', '.join(RiskTier.values)})"
        )
    try:
        model = services.register_model(
            name=name,
            team=team,
            risk_tier=tier,
            description=rm.description or f"Imported from the MLflow registered model {rm.name}.",
        )
    except ValidationError as exc:
        raise Skip(_message(exc)) from None
    return model


def _sync_version(
    link, known: MLflowVersionLink | None, mv, outcome, uri: str
) -> MLflowVersionLink:
    fields = {
        "run_id": mv.run_id or "",
        "source": (mv.source or "")[:1000],
        "description": mv.description or "",
        "tags": dict(mv.tags or {}),
    }
    if known is not None:
        changed = [name for name, value in fields.items() if getattr(known, name) != value]
        if changed:
            for name in changed:
                setattr(known, name, fields[name])
            known.save(update_fields=changed)
            version = known.model_version
            if "description" in changed and version.description != fields["description"]:
                version.description = fields["description"]
                version.save(update_fields=["description", "updated_at"])
            outcome.versions_updated.append(mv.version)
        return known
    version = ModelVersion.objects.filter(model=link.model, version=mv.version).first()
    if version is None:
        digest = fields["tags"].get(DIGEST_TAG, "")
        if ":" not in digest:
            digest = f"mlflow-version:{link.mlflow_name}/{mv.version}"[:200]
        try:
            with transaction.atomic():
                version = services.register_version(
                    model=link.model,
                    version=str(mv.version),
                    artifact_uri=fields["source"] or f"models:/{link.mlflow_name}/{mv.version}",
                    artifact_digest=digest,
                    description=fields["description"],
                    training_run=_lineage_run(link, mv, uri),
                )
        except ValidationError as exc:
            raise Skip(_message(exc)) from None
    elif MLflowVersionLink.objects.filter(model_version=version).exists():
        raise Skip(f"govreg version {version} is linked to another MLflow version")
    outcome.versions_created.append(mv.version)
    return MLflowVersionLink.objects.create(
        model_version=version, model_link=link, mlflow_version=mv.version, **fields
    )


def _lineage_run(link: MLflowModelLink, mv, uri: str) -> Run:
    """The version's training run in lineage: the run whose id is MLflow's run id (its
    32 hex digits are a UUID), as an OpenLineage-emitting training job reported it;
    else that MLflow run recorded as a completed run of the job NAME in the namespace
    of the tracking server, with no known inputs (so the gate's lineage check asks for
    them). A version without a run id cannot say how it was trained: not imported."""
    try:
        run_uuid = uuid.UUID(mv.run_id or "")
    except ValueError:
        raise Skip("it has no MLflow run id, and govreg needs its training run") from None
    known = Run.objects.filter(run_id=run_uuid).first()
    if known is not None:
        return known
    moment = datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, tz=UTC)
    ingest_event(
        {
            "eventType": "COMPLETE",
            "eventTime": moment.isoformat(),
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT,
            "run": {"runId": str(run_uuid), "facets": {}},
            "job": {"namespace": uri, "name": link.mlflow_name, "facets": {}},
            "inputs": [],
            "outputs": [],
        }
    )
    return Run.objects.get(run_id=run_uuid)


def _sync_aliases(link, aliases: dict, linked: dict, outcome: ModelOutcome, now) -> None:
    """Remember where each alias points; a watched one that moved to a version govreg
    has not approved for its environment is an ungoverned deployment."""
    watched = settings.GOVREG_MLFLOW_ALIAS_ENVIRONMENTS
    known = {a.alias: a for a in link.aliases.select_for_update()}
    environments = {e.name: e for e in Environment.objects.filter(name__in=watched.values())}
    for alias in sorted(set(aliases) | set(known)):
        target = str(aliases.get(alias, ""))
        row = known.get(alias)
        env_name = watched.get(alias, "")
        if row is not None and (row.mlflow_version, row.environment_name) == (target, env_name):
            continue
        if row is None and not target:
            continue
        environment = environments.get(env_name) if env_name else None
        if env_name and environment is None:
            outcome.problems.append(
                f"alias {alias}: environment {env_name!r} (GOVREG_MLFLOW_ALIAS_ENVIRONMENTS) "
                "does not exist in govreg"
            )
            continue
        version_link = linked.get(target) if target else None
        if target and version_link is None:
            outcome.problems.append(f"alias {alias}: version {target} is not imported")
            continue
        previous = row.mlflow_version if row is not None else ""
        moved = previous != target
        if row is None:
            row = MLflowAlias.objects.create(
                model_link=link,
                alias=alias,
                mlflow_version=target,
                environment_name=env_name,
                changed_at=now,
            )
        else:
            row.mlflow_version, row.environment_name = target, env_name
            if moved:
                row.changed_at = now
            row.save(update_fields=["mlflow_version", "environment_name", "changed_at"])
        outcome.aliases_moved.append(f"{alias} {previous or 'none'}->{target or 'none'}")
        if not (moved and target and environment is not None):
            continue
        version = version_link.model_version
        if not approved_for(version, environment):
            outcome.ungoverned.append(f"{alias} -> {version} in {environment.name}")
            ungoverned_alias.send(
                sender=MLflowAlias,
                alias=row,
                model_version=version,
                environment=environment,
                previous_version=previous,
                now=now,
            )


def approved_for(version: ModelVersion, environment: Environment) -> bool:
    """Whether govreg lets ``version`` serve in ``environment`` now: it is live there, or
    a deployment request for exactly it and there is approved and not yet reported (the
    pipeline is shipping it). A version that was approved once and replaced since is
    not: putting it back is a rollback the gate judges."""
    if Deployment.objects.filter(
        model_version=version, environment=environment, state=DeploymentState.LIVE
    ).exists():
        return True
    return DeploymentRequest.objects.filter(
        model_version=version,
        environment=environment,
        status=RequestStatus.APPROVED,
        outcome=RequestOutcome.NONE,
    ).exists()


def _message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)
