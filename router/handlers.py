"""The router's work on one submitted complaint: classify, decide, store once, announce."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from router.classifier import KeywordClassifier
from router.decisions import decide
from router.metrics import DECISIONS
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted, ComplaintTriageNeeded, Decision
from services.contracts.envelope import Envelope, derived_id, new_event
from services.store import Doc, Store
from services.taxonomy import Taxonomy

log = logging.getLogger(__name__)
SOURCE = "/pasokh/router"


def _stored_decision(doc: Doc, submitted: ComplaintSubmitted) -> Decision:
    """The decision an earlier delivery stored, so that a redelivery announces the same thing."""
    model = ComplaintRouted if doc["status"] == "routed" else ComplaintTriageNeeded
    return model(
        complaint_id=submitted.complaint_id,
        tracking_code=submitted.tracking_code,
        category=doc["category"],
        department=doc["department"],
        priority=doc["priority"],
        confidence=doc["classifier"]["confidence"],
        classifier=doc["classifier"]["name"],
        language=doc["language"],
        due_at=doc["due_at"],
    )


async def handle_submitted(
    envelope: Envelope,
    *,
    store: Store,
    publisher: Publisher,
    classifier: KeywordClassifier,
    taxonomy: Taxonomy,
    threshold: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Decision:
    """Decide for one ``complaint.submitted`` event; a redelivery re-announces, never re-decides."""
    submitted = envelope.payload(ComplaintSubmitted)
    decision_id = derived_id(envelope.source, envelope.id, "decision")
    existing = await records.find(store, submitted.complaint_id)
    if existing is not None and decision_id in existing.get("applied_events", ()):
        decision = _stored_decision(existing, submitted)
        decided_at = existing["decided_at"]
        log.info(
            "decision already stored; announcing it again", extra={"complaint_id": submitted.complaint_id}
        )
    else:
        now = records.store_precision(clock())
        classification = classifier.classify(submitted.text, hint=submitted.category_hint)
        decision = decide(submitted, classification, taxonomy=taxonomy, threshold=threshold, now=now)
        status = "routed" if isinstance(decision, ComplaintRouted) else "triage"
        applied = await records.apply_decision(
            store,
            submitted,
            decision,
            submitted_event_id=envelope.id,
            decision_event_id=decision_id,
            status=status,
            at=now,
        )
        decided_at = now
        if applied:
            DECISIONS.labels(status, decision.category, decision.department).inc()
            log.info(
                "complaint %s",
                status,
                extra={
                    "complaint_id": submitted.complaint_id,
                    "event_id": decision_id,
                    "category": decision.category,
                },
            )
        else:  # another delivery stored its decision between our read and our write: that one stands
            stored = await records.find(store, submitted.complaint_id)
            assert stored is not None
            decision, decided_at = _stored_decision(stored, submitted), stored["decided_at"]
    # Same id on every delivery: consumers drop the repeat by (source, id).
    event = new_event(
        decision, subject=submitted.complaint_id, source=SOURCE, event_id=decision_id, time=decided_at
    )
    await publisher.publish(topics.EVENTS, event)
    return decision
