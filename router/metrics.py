"""router's Prometheus metrics (bounded labels: status, category and department codes, command names)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from pymongo import monitoring

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
MONGO_COMMANDS = Counter(
    f"{PREFIX}router_mongo_commands",
    "MongoDB commands the router sent (each one round trip), by command name",
    ["command"],
)
MONGO_DOCUMENTS = Counter(
    f"{PREFIX}router_mongo_documents",
    "Documents the router sent in insert, update and delete commands (one per insert, update or delete)",
    ["command"],
)
# The field of a write command that lists its documents; other command names count as "other".
_DOCUMENT_FIELDS = {"insert": "documents", "update": "updates", "delete": "deletes"}
_NAMES = frozenset(
    {*_DOCUMENT_FIELDS, "find", "getMore", "findAndModify", "aggregate", "count", "createIndexes"}
)


class CommandCounter(monitoring.CommandListener):
    """Counts the router's MongoDB round trips and written documents (``pasokh bench router`` reads them)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """One command on its way to the server."""
        name = event.command_name if event.command_name in _NAMES else "other"
        MONGO_COMMANDS.labels(name).inc()
        field = _DOCUMENT_FIELDS.get(name)
        if field is not None:
            MONGO_DOCUMENTS.labels(name).inc(len(event.command.get(field, ())))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to count."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to count (the command was counted when it started)."""
