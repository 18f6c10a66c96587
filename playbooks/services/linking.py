"""The one rule both intakes (Alertmanager and plain JSON) follow: from a signal's
names (model, version, environment, deployment) to records, as far as the sender
may see them; when a delivery repeats a reading already stored (``intake_key``);
and which incident a reading joins (``incident_to_join``). A model the sender
cannot see is treated exactly like one that does not exist, so the answer leaks
nothing."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Case, F, OuterRef, Q, Subquery, Value, When

from accounts.permissions import may, visible
from config.statements import Statement
from playbooks.choices import ACTIVE_STATUSES, SignalKind
from playbooks.models import Incident, Playbook, Signal
from registry import services as registry_services
from registry.choices import DeploymentState
from registry.models import Deployment, Environment, MLModel, ModelVersion
from risk.models import Threshold


@dataclass
class SignalInput:
    """One signal as received, before it is stored."""

    source: str
    kind: str = "metric"  # playbooks.choices.SignalKind
    metric: str = ""
    value: float | None = None
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    sender: str = ""
    fingerprint: str = ""
    alert_status: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    observed_at: datetime | None = None
    generator_url: str = ""
    group_key: str = ""
    receiver: str = ""
    payload: dict = field(default_factory=dict)
    model_name: str = ""
    version_name: str = ""
    environment_name: str = ""
    deployment_id: int | None = None


def intake_key(data: SignalInput) -> str:
    """What identifies one reading, as a digest: the alert (fingerprint), its firing
    episode (startsAt) and status, the moment observed, what it names and the value.
    A retried delivery (Alertmanager retries, an HA pair both sending, a pipeline
    re-posting) has the same key and is not stored again; a new value, a new episode
    or the resolved notification is a new reading. Empty when nothing fixes the
    moment (a plain signal without ``observed_at``): such readings are never merged."""
    moment = data.observed_at or data.starts_at
    if moment is None:
        return ""
    identity = [
        data.fingerprint,
        data.starts_at.isoformat() if data.starts_at else "",
        data.alert_status,
        moment.isoformat(),
        data.model_name,
        data.version_name,
        data.environment_name,
        data.deployment_id,
        data.metric,
        None if data.value is None else repr(float(data.value)),
    ]
    blob = json.dumps(identity, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()


def incident_key(signal: Signal) -> str:
    """The incident (and investigation task) a linked reading belongs to: one per model,
    environment and metric while it is active, whichever intake the readings came in by.
    A signal of another kind than a metric reading (a silent monitor) has its own."""
    key = f"sig:{signal.model_id}:{signal.environment_name}:{signal.metric}"
    if signal.kind and signal.kind != SignalKind.METRIC:
        key += f":{signal.kind}"
    return key[:255]


def incident_to_join(signal: Signal, *, by_key: bool = True) -> Incident | None:
    """The active incident this linked reading joins: the one of its model, environment
    and metric; else the active one an earlier notification of the same alert episode
    (fingerprint and startsAt) joined, the latest such. None when there is none.
    ``by_key=False``: the second rule only (the caller knows the first found nothing).
    Both rules are asked in one query."""
    if not by_key and not signal.fingerprint:
        return None
    key = incident_key(signal)
    usual = signal.fingerprint and None not in (signal.starts_at, signal.model_id, signal.pk)
    if by_key and usual:  # an alert of a stored, linked reading
        return _INCIDENT_TO_JOIN.first(
            dedup_key=key,
            fingerprint=signal.fingerprint,
            starts_at=signal.starts_at,
            model=signal.model_id,
            signal=signal.pk,
        )
    return _incident_to_join(
        key, signal.fingerprint, signal.starts_at, signal.model_id, signal.pk, by_key=by_key
    ).first()


def _incident_to_join(dedup_key, fingerprint, starts_at, model, signal, *, by_key=True):
    rules = Q(dedup_key=dedup_key) if by_key else Q(pk__in=[])
    candidates = Incident.objects.filter(status__in=ACTIVE_STATUSES)
    if fingerprint:
        episode = Signal.objects.filter(
            fingerprint=fingerprint,
            starts_at=starts_at,
            model_id=model,
            incident__status__in=ACTIVE_STATUSES,
        ).exclude(pk=signal)
        rules |= Q(pk__in=episode.values("incident_id"))
        candidates = candidates.annotate(
            last_of_episode=Subquery(
                episode.filter(incident=OuterRef("pk")).order_by("-pk").values("pk")[:1]
            )
        )
        latest = [F("last_of_episode").desc(nulls_last=True)]
    else:
        latest = []
    by_key_first = Value(1)
    if by_key:
        by_key_first = Case(When(dedup_key=dedup_key, then=Value(0)), default=Value(1))
    return (
        candidates.filter(rules)
        .annotate(by_key_first=by_key_first)
        .order_by("by_key_first", *latest, "-opened_at", "-pk")
    )


# compiled once (config.statements): both rules for an alert with a fingerprint and an
# episode start, the shape nearly every reading asks
_INCIDENT_TO_JOIN = Statement(
    _incident_to_join, dedup_key=str, fingerprint=str, starts_at=datetime, model=int, signal=int
)


@dataclass
class Links:
    model: MLModel | None = None
    model_version: ModelVersion | None = None
    environment: Environment | None = None
    deployment: Deployment | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def linked(self) -> bool:
        return self.model is not None


class LinkCache:
    """Lookups shared by the signals triaged in one transaction (a storm names the
    same model and metric thousands of times)."""

    def __init__(self):
        self.links: dict[tuple, Links] = {}
        self.thresholds: dict[tuple, list] = {}
        self.extra: dict[tuple, object] = {}

    def remember(self, key: tuple, compute):
        if key not in self.extra:
            self.extra[key] = compute()
        return self.extra[key]


def resolve(
    user,
    *,
    model_name="",
    version_name="",
    environment_name="",
    deployment_id=None,
    cache: LinkCache | None = None,
) -> Links:
    """Links for a signal. The deployment (by id, or the live one of the model in the
    environment) fills in the version when the signal names none. A signal that names
    neither an environment nor a deployment concerns the model's live deployment when
    there is exactly one (of the named version, if it names one)."""
    key = (getattr(user, "pk", None), model_name, version_name, environment_name, deployment_id)
    if cache is not None and key in cache.links:
        return cache.links[key]
    links = _resolve(user, model_name, version_name, environment_name, deployment_id)
    if cache is not None:
        cache.links[key] = links
    return links


def _live_deployment(model_name, environment_name):
    return Deployment.objects.select_related("model__team", "model_version", "environment").filter(
        model__name=model_name, environment__name=environment_name, state=DeploymentState.LIVE
    )


# compiled once (config.statements): the usual alert names its model and environment
_LIVE_DEPLOYMENT = Statement(_live_deployment, model_name=str, environment_name=str)


def _resolve(user, model_name, version_name, environment_name, deployment_id) -> Links:
    def models():  # what the sender may see, asked only when needed
        return visible(MLModel.objects.select_related("team"), user)

    links = Links()
    live_asked = False
    if deployment_id is not None:
        links.deployment = (
            Deployment.objects.select_related("model__team", "model_version", "environment")
            .filter(pk=deployment_id, model__in=models())
            .first()
        )
    elif model_name and environment_name:
        # The usual alert: the model's live deployment in the named environment, with
        # the model, environment and version in the same query; at most one (a model's
        # name is unique, so is its live deployment in an environment), kept when the
        # sender may see its model.
        found = _LIVE_DEPLOYMENT.first(model_name=model_name, environment_name=environment_name)
        if found is not None and may(user, "view", found.model):
            links.deployment = found
        live_asked = True
    if links.deployment is not None:
        links.model = links.deployment.model
        links.environment = links.deployment.environment
        links.model_version = links.deployment.model_version
    if links.model is None and model_name:
        links.model = models().filter(name=model_name).first()
    if links.model is None:
        return links
    if environment_name and links.environment is None:
        links.environment = Environment.objects.filter(name=environment_name).first()
    if links.deployment is None and links.environment is not None and not live_asked:
        links.deployment = (
            Deployment.objects.select_related("model_version")
            .filter(model=links.model, environment=links.environment, state=DeploymentState.LIVE)
            .first()
        )
    if links.deployment is None and not environment_name and deployment_id is None:
        live = Deployment.objects.select_related("model_version", "environment").filter(
            model=links.model, state=DeploymentState.LIVE
        )
        if version_name:
            live = live.filter(model_version__version=version_name)
        only = list(live.order_by("pk")[:2])
        if len(only) == 1:
            links.deployment = only[0]
            links.environment = only[0].environment
    deployed = links.deployment.model_version if links.deployment is not None else None
    if version_name and getattr(deployed, "version", None) == version_name:
        links.model_version = deployed  # the named version is the one deployed
    elif version_name:
        links.model_version = ModelVersion.objects.filter(
            model=links.model, version=version_name
        ).first()
        if links.model_version is None:
            links.notes.append(f"version {version_name!r} is not registered")
    else:
        links.model_version = deployed
    return links


def _thresholds_watching(deployment, version, team, metric):
    # Each threshold carries the first (by name) active playbook of the model's team that
    # names it (``naming_playbook_id``), the playbook triage then runs.
    naming = Playbook.objects.filter(team_id=team, active=True, thresholds=OuterRef("pk")).order_by(
        "name"
    )
    return (
        Threshold.objects.filter(Q(deployment_id=deployment) | Q(model_version_id=version))
        .filter(metric=metric)
        .select_related("risk")
        .annotate(naming_playbook_id=Subquery(naming.values("pk")[:1]))
        .order_by("pk")
    )


# compiled once (config.statements): asked for every alert triaged
_THRESHOLDS = Statement(_thresholds_watching, deployment=int, version=int, team=int, metric=str)


def thresholds_for(links: Links, metric: str, cache: LinkCache | None = None) -> list:
    """The thresholds watching ``metric`` on the signal's deployment or model version."""
    key = (
        getattr(links.deployment, "pk", None),
        getattr(links.model_version, "pk", None),
        metric,
    )
    if cache is not None and key in cache.thresholds:
        return cache.thresholds[key]
    found = _THRESHOLDS.all(
        # no deployment (or version): an id no row has, so that side matches nothing
        deployment=key[0] or 0,
        version=key[1] or 0,
        team=links.model.team_id,
        metric=metric,
    )
    if cache is not None:
        cache.thresholds[key] = found
    return found


def incident_links(links: Links, threshold=None) -> dict:
    """FKs and M2Ms an incident opened from these links starts with."""
    out = {"model_version": links.model_version, "deployment": links.deployment}
    if threshold is not None:
        out["risks"] = [threshold.risk]
    if links.model_version is not None:
        out["dataset_versions"] = registry_services.training_data(links.model_version)
    return out
