"""Every Prometheus metric Pasokh registers: conventional names, bounded labels; the consumer lag gauge.

All modules of the three services and of the shared kernel are imported, so every collector is in
the default registry; then each metric's name, type and label names are checked against the
conventions and the allow-list below. A new label must be added here on purpose, after checking
that its values are bounded and never personal data.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.metrics import CONSUMER_LAG, exposition, seconds_between
from services.worker import lag_by_partition, record_consumer_lag
from tests.support.metric_labels import ALLOWED_LABELS

PACKAGES = ("services", "intake", "router", "notifier")
# Prometheus' own client metrics (process_*, python_*) are allowed unprefixed.
FOREIGN_PREFIXES = ("process_", "python_")


def _import_everything() -> None:
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if module.name.endswith("__main__"):
                continue
            importlib.import_module(module.name)


def _families() -> list[Any]:
    _import_everything()
    return list(REGISTRY.collect())


def test_every_metric_is_prefixed_and_documented() -> None:
    families = _families()
    ours = [f for f in families if not f.name.startswith(FOREIGN_PREFIXES)]

    assert len(ours) >= 15
    for family in ours:
        assert family.name.startswith("pasokh_"), family.name
        assert family.documentation.strip(), f"{family.name} has no help text"
        if family.type == "histogram":
            assert family.name.endswith(("_seconds", "_bytes", "_confidence")), family.name


def test_labels_are_on_the_allow_list() -> None:
    # Declared label names, also of metrics that have recorded nothing yet (they have no samples).
    _import_everything()
    for collector in list(REGISTRY._collector_to_names):  # prometheus_client keeps no public list
        declared = set(getattr(collector, "_labelnames", ()))
        unknown = declared - set(ALLOWED_LABELS)
        assert not unknown, (
            f"{getattr(collector, '_name', collector)} declares labels {unknown} outside the allow-list"
        )
    for family in _families():
        if family.name.startswith(FOREIGN_PREFIXES):
            continue
        for sample in family.samples:
            unknown = set(sample.labels) - set(ALLOWED_LABELS) - {"le"}
            assert not unknown, f"{sample.name} has labels {unknown} outside the allow-list"


def test_process_metrics_are_exposed() -> None:
    body, content_type = exposition()
    names = {family.name for family in text_string_to_metric_families(body.decode())}

    assert content_type.startswith("text/plain")
    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_info"} <= names


def test_the_issue_s_metrics_exist() -> None:
    names = {family.name for family in _families()}

    assert {
        "pasokh_http_requests",
        "pasokh_http_request_duration_seconds",
        "pasokh_complaints_submitted",
        "pasokh_complaints_decided",
        "pasokh_classifier_confidence",
        "pasokh_submitted_to_decided_seconds",
        "pasokh_decided_to_sms_seconds",
        "pasokh_sla_warnings",
        "pasokh_sla_breaches",
        "pasokh_sms",
        "pasokh_survey_ratings",
        "pasokh_dead_letters",
        "pasokh_kafka_consumer_lag",
    } <= names


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class FakeConsumer:
    """The three things lag_by_partition reads from a faust consumer."""

    highwaters: dict[TP, int | None]
    _committed_offset: dict[TP, int | None] = field(default_factory=dict)
    revoked: set[TP] = field(default_factory=set)

    def assignment(self) -> set[TP]:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int | None:
        if tp in self.revoked:
            raise KeyError(tp)
        return self.highwaters[tp]


def test_lag_is_highwater_minus_committed_for_known_partitions() -> None:
    a, b, c, d = (TP("pasokh.complaints.submitted", n) for n in range(4))
    consumer = FakeConsumer({a: 120, b: 40, c: None, d: 9}, {a: 100, b: 40, c: 5, d: None})

    assert lag_by_partition(consumer) == {(a.topic, 0): 20, (b.topic, 1): 0}


def test_a_revoked_partition_is_skipped() -> None:
    a, b = TP("t", 0), TP("t", 1)
    consumer = FakeConsumer({a: 10, b: 10}, {a: 4, b: 4}, revoked={b})

    assert lag_by_partition(consumer) == {("t", 0): 6}


def _lag_samples(group: str) -> dict[tuple[str, str], float]:
    return {
        (s.labels["topic"], s.labels["partition"]): s.value
        for family in CONSUMER_LAG.collect()
        for s in family.samples
        if s.labels["group"] == group
    }


def test_recorded_lag_follows_the_assignment_of_its_group_only() -> None:
    record_consumer_lag("pasokh-test-a", {("t", 0): 5, ("t", 1): 7})
    record_consumer_lag("pasokh-test-b", {("t", 0): 1})

    record_consumer_lag("pasokh-test-a", {("t", 1): 3})  # partition 0 was revoked

    assert _lag_samples("pasokh-test-a") == {("t", "1"): 3}
    assert _lag_samples("pasokh-test-b") == {("t", "0"): 1}


@pytest.mark.parametrize(
    ("delta", "expected"), [(timedelta(seconds=2.5), 2.5), (timedelta(0), 0.0), (timedelta(seconds=-3), 0.0)]
)
def test_seconds_between_is_never_negative(delta: timedelta, expected: float) -> None:
    earlier = datetime(2026, 3, 20, tzinfo=UTC)

    assert seconds_between(earlier, earlier + delta) == expected


def test_every_metric_the_dashboard_and_alerts_query_exists() -> None:
    repo = Path(__file__).resolve().parents[2]
    monitoring = repo / "deploy" / "monitoring"
    dashboard = json.loads((monitoring / "grafana" / "dashboards" / "pasokh-overview.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    queries += [
        r["expr"]
        for g in yaml.safe_load((monitoring / "prometheus" / "rules" / "pasokh.rules.yml").read_text())[
            "groups"
        ]
        for r in g["rules"]
    ]
    exposed = set()
    for family in _families():
        exposed |= {s.name for s in family.samples} | {family.name}
        if family.type == "histogram":
            exposed |= {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        if family.type == "counter":  # a labelled counter has no sample before its first increment
            exposed.add(f"{family.name}_total")

    used = {name for q in queries for name in re.findall(r"\b(pasokh_[a-z_]+|process_[a-z_]+)\b", q)}

    assert used, queries
    assert used <= exposed, used - exposed
