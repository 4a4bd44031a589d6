"""router's Prometheus metrics (bounded labels: status, category and department codes)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from services.metrics import FLOW_BUCKETS, PREFIX

DECISIONS = Counter(
    f"{PREFIX}complaints_decided", "Complaints routed or sent to triage", ["status", "category", "department"]
)
ACTIONS = Counter(
    f"{PREFIX}staff_actions", "Staff actions applied to complaints, or refused", ["action", "outcome"]
)
CONFIDENCE = Histogram(
    f"{PREFIX}classifier_confidence",
    "The classifier's confidence in the category it chose, by what was decided (routed or triage)",
    ["status"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
SUBMITTED_TO_DECIDED = Histogram(
    f"{PREFIX}submitted_to_decided_seconds",
    "From the submitted event's time to the router's decision (routed or triage)",
    ["status"],
    buckets=FLOW_BUCKETS,
)
SLA_WARNINGS = Counter(
    f"{PREFIX}sla_warnings", "Complaints near their due time, not resolved, by department", ["department"]
)
SLA_BREACHES = Counter(
    f"{PREFIX}sla_breaches", "Complaints past their due time, not resolved, by department", ["department"]
)
