"""notifier's Prometheus metrics (bounded labels: provider, outcome, template, command names)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from pymongo import monitoring

from services.metrics import FLOW_BUCKETS, PREFIX

SMS = Counter(f"{PREFIX}sms", "SMS by provider, template and outcome", ["provider", "template", "outcome"])
OVER_BUDGET = Counter(
    f"{PREFIX}sms_over_budget", "Rendered SMS longer than their segment budget", ["template"]
)
NOTICES = Counter(f"{PREFIX}department_notices", "Department webhook notices by outcome", ["outcome"])
DECIDED_TO_SMS = Histogram(
    f"{PREFIX}decided_to_sms_seconds",
    "From the router's decision event (routed or triage) to its first SMS accepted by the provider",
    ["template"],
    buckets=FLOW_BUCKETS,
)
MAIL = Counter(f"{PREFIX}department_mail", "Department e-mail notices by outcome", ["outcome"])
MONGO_COMMANDS = Counter(
    f"{PREFIX}notifier_mongo_commands",
    "MongoDB commands the notifier sent (each one round trip), by command name",
    ["command"],
)
MONGO_DOCUMENTS = Counter(
    f"{PREFIX}notifier_mongo_documents",
    "Documents the notifier sent in insert, update and delete commands",
    ["command"],
)
MONGO_SECONDS = Counter(
    f"{PREFIX}notifier_mongo_command_seconds",
    "Time the notifier's MongoDB commands took, from sending to the answer, by command name",
    ["command"],
)
# The field of a write command that lists its documents; other command names count as "other".
_DOCUMENT_FIELDS = {"insert": "documents", "update": "updates", "delete": "deletes"}
_NAMES = frozenset(
    {*_DOCUMENT_FIELDS, "find", "getMore", "findAndModify", "aggregate", "count", "createIndexes"}
)


class CommandCounter(monitoring.CommandListener):
    """Counts the notifier's MongoDB round trips and written documents (``pasokh bench notifier``)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """One command on its way to the server."""
        name = event.command_name if event.command_name in _NAMES else "other"
        MONGO_COMMANDS.labels(name).inc()
        field = _DOCUMENT_FIELDS.get(name)
        if field is not None:
            MONGO_DOCUMENTS.labels(name).inc(len(event.command.get(field, ())))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """The time it took."""
        name = event.command_name if event.command_name in _NAMES else "other"
        MONGO_SECONDS.labels(name).inc(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """The time it took (the command was counted when it started)."""
        name = event.command_name if event.command_name in _NAMES else "other"
        MONGO_SECONDS.labels(name).inc(event.duration_micros / 1e6)
