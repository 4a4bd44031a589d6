"""The router's work on one submitted complaint: classify, decide or link a duplicate, store, announce."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cloudevents.core.v1.event import CloudEvent

from router import duplicates, stats
from router.classifier import Classifier
from router.decisions import district_of, plan
from router.metrics import CONFIDENCE, DECISIONS, SUBMITTED_TO_DECIDED
from router.routing import RoutingTable
from router.settings import DuplicateOptions
from router.sla import SlaPolicy
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted, ComplaintTriageNeeded, Decision
from services.contracts.envelope import Envelope, derived_id, envelope_of, new_event
from services.contracts.routing import ComplaintDuplicateLinked, ComplaintDuplicateUnlinked
from services.metrics import seconds_between
from services.store import Doc, Store
from services.taxonomy import Taxonomy

log = logging.getLogger(__name__)
SOURCE = "/pasokh/router"


def _stored_decision(doc: Doc, submitted: ComplaintSubmitted) -> Decision | ComplaintDuplicateLinked:
    """The decision an earlier delivery stored, so that a redelivery announces the same thing."""
    if "duplicate" in doc:  # kept after an unlink too: the first announcement was the link
        link = doc["duplicate"]
        return ComplaintDuplicateLinked(
            complaint_id=submitted.complaint_id,
            tracking_code=submitted.tracking_code,
            primary_id=link["primary_id"],
            primary_tracking_code=link["primary_tracking_code"],
            category=link["category"],
            department=link["department"],
            distance_m=link["distance_m"],
            similarity=link["similarity"],
            linked_at=link["linked_at"],
        )
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
    classifier: Classifier,
    taxonomy: Taxonomy,
    threshold: float,
    routing: RoutingTable | None = None,
    sla: SlaPolicy | None = None,
    dedupe: DuplicateOptions | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Decision | ComplaintDuplicateLinked:
    """Decide for one ``complaint.submitted`` event; a redelivery re-announces, never re-decides.

    With ``routing`` the district and the city's rules choose the department; with ``sla`` the due
    time is in working time and the warning time is stored; with ``dedupe`` a confident decision on
    a complaint with a location may become a link to an open complaint it duplicates.
    """
    submitted = envelope.payload(ComplaintSubmitted)
    decision_id = derived_id(envelope.source, envelope.id, "decision")
    existing = await records.find(store, submitted.complaint_id)
    decision: Decision | ComplaintDuplicateLinked
    if existing is not None and decision_id in existing.get("applied_events", ()):
        decision = _stored_decision(existing, submitted)
        decided_at = existing["decided_at"]
        log.info(
            "decision already stored; announcing it again", extra={"complaint_id": submitted.complaint_id}
        )
    else:
        now = records.store_precision(clock())
        classification = classifier.classify(submitted.text, hint=submitted.category_hint)
        place = submitted.location
        routed, status, extra = plan(
            submitted,
            classification,
            district=district_of(submitted, routing),
            taxonomy=taxonomy,
            threshold=threshold,
            now=now,
            routing=routing,
            sla=sla,
        )
        decision = routed
        if dedupe is not None and dedupe.enabled and place is not None and status == "routed":
            match = await duplicates.find_primary(
                store,
                complaint_id=submitted.complaint_id,
                category=routed.category,
                text=submitted.text,
                lat=place.lat,
                lon=place.lon,
                at=submitted.submitted_at,
                options=dedupe,
            )
            if match is not None:
                decision = ComplaintDuplicateLinked(
                    complaint_id=submitted.complaint_id,
                    tracking_code=submitted.tracking_code,
                    primary_id=match.primary_id,
                    primary_tracking_code=match.primary_tracking_code,
                    category=routed.category,
                    department=match.department,
                    distance_m=match.distance_m,
                    similarity=match.similarity,
                    linked_at=now,
                )
                status = "duplicate"
                # The department already has the first report; this one follows it, with no deadline.
                extra.pop("sla", None)
                extra.pop("sla_slot", None)
                extra.pop("dup_cell", None)
                extra.update(
                    department=match.department,
                    duplicate=decision.model_dump(
                        include={
                            "primary_id",
                            "primary_tracking_code",
                            "category",
                            "department",
                            "distance_m",
                            "similarity",
                            "linked_at",
                        }
                    ),
                )
        applied = await records.apply_decision(
            store,
            submitted,
            routed,
            submitted_event_id=envelope.id,
            decision_event_id=decision_id,
            status=status,
            at=now,
            extra=extra,
        )
        decided_at = now
        if applied:
            DECISIONS.labels(status, routed.category, str(extra.get("department", routed.department))).inc()
            CONFIDENCE.labels(status).observe(routed.confidence)
            SUBMITTED_TO_DECIDED.labels(status).observe(seconds_between(envelope.time, now))
            log.info(
                "complaint %s",
                status,
                extra={
                    "complaint_id": submitted.complaint_id,
                    "event_id": decision_id,
                    "category": routed.category,
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
    await _book(store, event)
    return decision


async def _book(store: Store, event: CloudEvent) -> None:
    """The decision's inbox entry and its count in the public rollups, once (router/stats.py): the
    events agent leaves the router's own decisions to the code that made them (router/app.py)."""
    await stats.count(envelope_of(event), store=store)


async def handle_unlinked(
    envelope: Envelope,
    *,
    store: Store,
    publisher: Publisher,
    classifier: Classifier,
    taxonomy: Taxonomy,
    threshold: float,
    routing: RoutingTable | None = None,
    sla: SlaPolicy | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Decision | None:
    """Staff said a linked complaint is no duplicate: decide for it on its own (never linked again).

    Once per unlink event; a redelivery announces the stored decision again. None if the complaint is
    unknown or no longer a duplicate.
    """
    unlinked = envelope.payload(ComplaintDuplicateUnlinked)
    decision_id = derived_id(envelope.source, envelope.id, "decision")
    doc = await records.find(store, unlinked.complaint_id)
    if doc is None:
        log.warning("unlink of an unknown complaint", extra={"complaint_id": unlinked.complaint_id})
        return None
    if decision_id not in doc.get("applied_events", ()):
        if doc["status"] != "duplicate":
            log.warning("unlink of a complaint that is not a duplicate", extra={"event_id": envelope.id})
            return None
        now = records.store_precision(clock())
        submitted = ComplaintSubmitted(
            complaint_id=doc["_id"],
            tracking_code=doc["tracking_code"],
            text=doc["text"],
            channel=doc["channel"],
            language=doc.get("language"),
            category_hint=doc.get("category_hint"),
            district=doc.get("district"),
            location=doc.get("location"),
            submitted_at=doc["created_at"],
        )
        classification = classifier.classify(submitted.text, hint=submitted.category_hint)
        decision, status, extra = plan(
            submitted,
            classification,
            district=doc.get("district"),
            taxonomy=taxonomy,
            threshold=threshold,
            now=now,
            routing=routing,
            sla=sla,
        )
        fields: Doc = {
            **extra,
            "status": status,
            "category": decision.category,
            "department": decision.department,
            "priority": decision.priority,
            "due_at": decision.due_at,
            "decided_at": now,
            "updated_at": now,
            "classifier": {"name": decision.classifier, "confidence": decision.confidence},
            "duplicate.unlinked": {"by": unlinked.actor_id, "at": unlinked.at, "event_id": envelope.id},
        }
        entry = records.timeline_entry("unlinked", unlinked.at, event_id=envelope.id, note=unlinked.reason)
        entry.update(actor_id=unlinked.actor_id, actor_name=unlinked.actor_name, public=False)
        async with records.writing(store, doc["_id"]):
            result = await store.complaints.update_one(
                {"_id": doc["_id"], "status": "duplicate", "applied_events": {"$ne": decision_id}},
                {
                    "$set": fields,
                    "$push": {
                        "timeline": {
                            "$each": [entry, records.timeline_entry(status, now, event_id=decision_id)]
                        }
                    },
                    "$addToSet": {"applied_events": {"$each": [envelope.id, decision_id]}},
                },
            )
        if result.modified_count == 1:
            DECISIONS.labels(status, decision.category, decision.department).inc()
        doc = await records.find(store, unlinked.complaint_id)
        assert doc is not None
        if decision_id not in doc.get("applied_events", ()):
            return None  # another action changed the record first; it stands
    # The status this decision gave (a later staff action may have changed the current one).
    given = next((e["type"] for e in doc["timeline"] if e.get("event_id") == decision_id), doc["status"])
    model = ComplaintRouted if given == "routed" else ComplaintTriageNeeded
    stored = model(
        complaint_id=doc["_id"],
        tracking_code=doc["tracking_code"],
        category=doc["category"],
        department=doc["department"],
        priority=doc["priority"],
        confidence=doc["classifier"]["confidence"],
        classifier=doc["classifier"]["name"],
        language=doc["language"],
        due_at=doc["due_at"],
    )
    event = new_event(stored, subject=doc["_id"], source=SOURCE, event_id=decision_id, time=doc["decided_at"])
    await publisher.publish(topics.EVENTS, event)
    await _book(store, event)
    return stored
