"""What the lineage picture needs from the apps above lineage, through registration.

Lineage knows dataset versions and runs, not the models built on them. The
registry registers (from its ``AppConfig.ready``) two functions here:

- an *impact provider* ``func(dataset_version, user) -> Impact``: the model versions
  trained on the version (transitively) and which of them are live, as ``user`` may
  see them, for the dataset version page ("revoking this affects 3 model versions,
  1 live in production");
- a *run models provider* ``func(run_ids, user) -> {run pk: [ModelRef, ...]}``: the
  model versions whose training run is one of ``run_ids``, drawn at the end of the
  graph, in one query whatever the number of runs.

Without a provider the pages show the lineage alone.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelRef:
    node_id: str  # "model:NAME:VERSION"
    label: str  # "loan-default@2"
    status: str  # the model version's status
    url: str  # its lineage picture (or page)
    live_in: tuple[str, ...] = ()  # environments it serves in now


@dataclass
class Impact:
    model_versions: list[ModelRef] = field(default_factory=list)
    live: list[tuple[str, str]] = field(default_factory=list)  # (model label, environment)
    features: list[str] = field(default_factory=list)

    def live_by_environment(self) -> list[tuple[str, int]]:
        counts = Counter(environment for _, environment in self.live)
        return sorted(counts.items())

    def summary(self, verb: str) -> str:
        """``verb`` ("revoking this affects") + "3 model versions, 1 live in production"."""
        n = len(self.model_versions)
        text = f"{verb} {n} model version{'' if n == 1 else 's'}"
        live = self.live_by_environment()
        if live:
            text += ", " + ", ".join(f"{count} live in {env}" for env, count in live)
        elif n:
            text += ", none live"
        return text


_providers: dict[str, Callable] = {}


def impact_provider(func):
    _providers["impact"] = func
    return func


def run_models_provider(func):
    _providers["run_models"] = func
    return func


def impact_of(dataset_version, user) -> Impact | None:
    provider = _providers.get("impact")
    return provider(dataset_version, user) if provider else None


def models_of_runs(run_ids, user) -> dict[int, list[ModelRef]]:
    provider = _providers.get("run_models")
    if provider is None or not run_ids:
        return {}
    return provider(run_ids, user)
