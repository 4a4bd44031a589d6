"""Kafka topic names: part of the public contract (DESIGN.md)."""

from typing import Final

SUBMITTED: Final = "pasokh.complaints.submitted"
EVENTS: Final = "pasokh.complaints.events"
DEADLETTER: Final = "pasokh.deadletter"

ALL: Final = (SUBMITTED, EVENTS, DEADLETTER)
