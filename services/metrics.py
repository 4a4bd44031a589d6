"""Prometheus helpers: one registry per process (with process metrics), names prefixed ``pasokh_``.

Metrics that more than one service records live here (dead letters, Kafka consumer lag, the
latency buckets); each service's own metrics live in its ``metrics`` module. Label values are
always drawn from a bounded set (route templates, codes of categories and departments, provider
names, outcomes, partition numbers): never ids, phone numbers or free text — a test checks it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest

PREFIX = "pasokh_"

# From seconds (a quick local hop) to days (a complaint that waited in triage over a weekend).
FLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400)

DEAD_LETTERS = Counter(
    f"{PREFIX}dead_letters",
    "Messages put on pasokh.deadletter, by the service that gave up and the topic they came from",
    ["service", "topic", "kind"],
)
CONSUMER_LAG = Gauge(
    f"{PREFIX}kafka_consumer_lag",
    "Messages in a partition not yet committed by the consumer group (highwater - committed offset)",
    ["group", "topic", "partition"],
)


def seconds_between(earlier: datetime, later: datetime) -> float:
    """``later - earlier`` in seconds, never negative (clocks of two machines may disagree a little).

    A naive time (as a MongoDB client without ``tz_aware`` returns it) is taken as UTC.
    """
    earlier, later = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (earlier, later))
    return max(0.0, (later - earlier).total_seconds())


def exposition() -> tuple[bytes, str]:
    """The current metrics in Prometheus' text format, with its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
