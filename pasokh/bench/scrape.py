"""Reading a service's own ``/metrics`` page from a benchmark."""

from __future__ import annotations

import urllib.request

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


def families(url: str) -> dict[str, Metric]:
    """The metric families at ``{url}/metrics``, by name (counters without their ``_total``)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def by_command(found: dict[str, Metric], name: str) -> dict[str, float]:
    """Counter ``name`` (services/mongo_metrics.py) by its ``command`` label; empty when absent."""
    family = found.get(name)
    if family is None:
        return {}
    return {s.labels["command"]: s.value for s in family.samples if s.name.endswith("_total")}
