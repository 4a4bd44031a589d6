"""router's Prometheus metrics (bounded labels: status, category and department codes)."""

from __future__ import annotations

from prometheus_client import Counter

from services.metrics import PREFIX

DECISIONS = Counter(
    f"{PREFIX}complaints_decided", "Complaints routed or sent to triage", ["status", "category", "department"]
)
ACTIONS = Counter(
    f"{PREFIX}staff_actions", "Staff actions applied to complaints, or refused", ["action", "outcome"]
)
