"""A complaint's lifecycle: which action may follow which status, and the status it leads to.

intake checks a staff action against the stored status before publishing it; the router applies the
published event. Statuses: received → routed | triage → acknowledged → resolved | rejected; reopened;
duplicate (DESIGN.md).
"""

from __future__ import annotations

from services.contracts.actions import (
    ComplaintAcknowledged,
    ComplaintCommented,
    ComplaintReassigned,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
)
from services.contracts.routing import ComplaintDuplicateUnlinked
from services.errors import PasokhError

STATUSES = ("received", "routed", "triage", "acknowledged", "resolved", "rejected", "reopened", "duplicate")
OPEN = frozenset({"received", "routed", "triage", "acknowledged", "reopened"})
CLOSED = frozenset({"resolved", "rejected", "duplicate"})

# event type → (statuses it may follow, status it leads to; None keeps the status)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    ComplaintAcknowledged.TYPE: (frozenset({"routed", "reopened"}), "acknowledged"),
    ComplaintCommented.TYPE: (frozenset(STATUSES), None),
    ComplaintReassigned.TYPE: (OPEN, "routed"),
    ComplaintResolved.TYPE: (frozenset({"routed", "acknowledged", "reopened"}), "resolved"),
    ComplaintRejected.TYPE: (OPEN - {"received"}, "rejected"),
    ComplaintReopened.TYPE: (frozenset({"resolved", "rejected"}), "reopened"),
    # The router decides again: routed, or triage when the classifier is unsure.
    ComplaintDuplicateUnlinked.TYPE: (frozenset({"duplicate"}), "routed"),
}


class InvalidTransition(PasokhError):
    """The action does not fit the complaint's current status."""

    def __init__(self, event_type: str, status: str) -> None:
        self.event_type = event_type
        self.status = status
        super().__init__(f"{event_type.rsplit('.', 1)[-1]} is not possible while the complaint is {status}")


def next_status(event_type: str, current: str) -> str:
    """The status after ``event_type`` happens in status ``current``; InvalidTransition if it cannot."""
    allowed, target = TRANSITIONS[event_type]
    if current not in allowed:
        raise InvalidTransition(event_type, current)
    return target or current
