"""Which complaint events the router's events agent books (inbox, public counts) when it reads them back."""

from __future__ import annotations

from datetime import UTC, datetime

from router.app import booked_when_decided
from router.handlers import SOURCE
from services.contracts.envelope import Envelope, EventPayload, from_kafka, new_event, to_kafka
from services.contracts.routing import ComplaintDuplicateLinked
from tests.factories import routed, submitted


def envelope(payload: EventPayload, source: str) -> Envelope:
    key, value = to_kafka(new_event(payload, subject="c-1", source=source))
    return from_kafka(value, key)


def test_the_routers_own_decisions_are_booked_when_decided_everything_else_when_read_back() -> None:
    sub = submitted()
    decision = routed(sub)
    link = ComplaintDuplicateLinked(
        complaint_id=sub.complaint_id,
        tracking_code=sub.tracking_code,
        primary_id="c-0",
        primary_tracking_code="1234567890",
        category="lighting",
        department="lighting",
        distance_m=12.0,
        similarity=0.8,
        linked_at=datetime.now(UTC),
    )
    assert booked_when_decided(envelope(decision, SOURCE))
    assert booked_when_decided(envelope(link, SOURCE))
    # The same type from elsewhere (a partner system, a replay tool) is counted when read.
    assert not booked_when_decided(envelope(decision, "/pasokh/partner/district-7"))
    # The router's other events (SLA escalations) and intake's submissions are not decisions.
    assert not booked_when_decided(envelope(sub, SOURCE))
    assert not booked_when_decided(envelope(sub, "/pasokh/intake"))
