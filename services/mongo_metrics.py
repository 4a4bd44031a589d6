"""What a process asks of MongoDB: round trips, documents written and the time they took, by command.

A PyMongo command listener feeding three counters (one registry per process, so the scrape job tells
the services apart). The benchmarks read them to report round trips per complaint or per SMS; on a
dashboard they show which command a slow server is spending its time on. The ``command`` label is one
of a fixed set of command names ("other" for the rest).
"""

from __future__ import annotations

from prometheus_client import Counter
from pymongo import monitoring

from services.metrics import PREFIX

COMMANDS = Counter(
    f"{PREFIX}mongo_commands",
    "MongoDB commands this process sent (each one round trip), by command name",
    ["command"],
)
DOCUMENTS = Counter(
    f"{PREFIX}mongo_documents",
    "Documents this process sent in insert, update and delete commands (one per insert, update or delete)",
    ["command"],
)
SECONDS = Counter(
    f"{PREFIX}mongo_command_seconds",
    "Time this process's MongoDB commands took, from sending to the answer, by command name",
    ["command"],
)
# The field of a write command that lists its documents; other command names count as "other".
_DOCUMENT_FIELDS = {"insert": "documents", "update": "updates", "delete": "deletes"}
_NAMES = frozenset(
    {*_DOCUMENT_FIELDS, "find", "getMore", "findAndModify", "aggregate", "count", "createIndexes"}
)


def _name(command_name: str) -> str:
    return command_name if command_name in _NAMES else "other"


class CommandCounter(monitoring.CommandListener):
    """Counts every command of the client it is given to (``Store.connect(..., listeners=[...])``)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """One command on its way to the server, and the documents it carries."""
        name = _name(event.command_name)
        COMMANDS.labels(name).inc()
        field = _DOCUMENT_FIELDS.get(name)
        if field is not None:
            DOCUMENTS.labels(name).inc(len(event.command.get(field, ())))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """The time it took."""
        SECONDS.labels(_name(event.command_name)).inc(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """The time it took to fail (the command was counted when it started)."""
        SECONDS.labels(_name(event.command_name)).inc(event.duration_micros / 1e6)
