"""Domain gauges for /metrics, computed from the database at scrape time.

Apps call ``register_gauge`` in ``AppConfig.ready``; each provider returns
``{label_tuple: value}`` (or a plain number when the gauge has no labels).
Computing at scrape time keeps every web process's answer identical and
needs no bookkeeping on write paths.
"""

import logging
from collections.abc import Callable

from prometheus_client.core import REGISTRY, GaugeMetricFamily

log = logging.getLogger(__name__)

_gauges: dict[str, tuple[str, tuple[str, ...], Callable]] = {}


def register_gauge(name: str, documentation: str, labels: tuple[str, ...], provider: Callable):
    _gauges[name] = (documentation, labels, provider)


class DomainCollector:
    def collect(self):
        for name, (documentation, labels, provider) in sorted(_gauges.items()):
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            try:
                values = provider()
            except Exception:  # a broken gauge must not take /metrics down
                log.exception("gauge %s failed", name)
                continue
            if isinstance(values, dict):
                for label_values, value in sorted(values.items()):
                    if not isinstance(label_values, tuple):
                        label_values = (label_values,)
                    family.add_metric([str(v) for v in label_values], float(value))
            else:
                family.add_metric([], float(values))
            yield family

    def describe(self):
        return []


_collector = DomainCollector()
REGISTRY.register(_collector)
