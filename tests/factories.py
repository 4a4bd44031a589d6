"""Test data with random ids, so tests never collide on shared infrastructure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from intake import tracking
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted
from services.contracts.envelope import Envelope, EventPayload, from_kafka, new_event, to_kafka
from services.privacy import Sealer
from services.settings import DEV_SECRET_KEY

SEALER = Sealer(DEV_SECRET_KEY)


def submitted(
    text: str = "چراغ کوچه ما خاموش است", phone: str | None = "+989121234567", **extra: Any
) -> ComplaintSubmitted:
    """A ``complaint.submitted`` payload as intake would publish it."""
    code = tracking.new_code()
    fields: dict[str, Any] = {
        "complaint_id": str(uuid.uuid4()),
        "tracking_code": code,
        "text": text,
        "channel": "web",
        "language": "fa",
        "submitted_at": datetime.now(UTC),
    }
    if phone:
        fields["phone_sealed"] = SEALER.seal(phone)
        fields["phone_hash"] = SEALER.lookup_hash(phone)
    fields.update(extra)
    return ComplaintSubmitted(**fields)


def routed(sub: ComplaintSubmitted, **extra: Any) -> ComplaintRouted:
    """The router's decision for ``sub``: the lighting department, due in 48 hours."""
    fields: dict[str, Any] = {
        "complaint_id": sub.complaint_id,
        "tracking_code": sub.tracking_code,
        "category": "lighting",
        "department": "lighting",
        "priority": "normal",
        "confidence": 0.9,
        "classifier": "keywords-v1",
        "language": "fa",
        "due_at": datetime.now(UTC) + timedelta(hours=48),
    }
    fields.update(extra)
    return ComplaintRouted(**fields)


def wired(
    payload: EventPayload,
    subject: str,
    *,
    source: str = "/pasokh/test",
    event_id: str | None = None,
    at: datetime | None = None,
) -> Envelope:
    """``payload`` as a consumer gets it off the wire (encoded and decoded as on Kafka)."""
    event = new_event(payload, subject=subject, source=source, event_id=event_id, time=at)
    key, value = to_kafka(event)
    return from_kafka(value, key)
