"""The complaint record's idempotent writes, on the real MongoDB-wire server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from router import sla
from services import records
from services.bus import KafkaPublisher
from services.store import Store
from tests.factories import routed, submitted


async def test_decision_is_applied_once_whatever_the_deliveries(store: Store) -> None:
    sub = submitted()
    decision = routed(sub)
    now = datetime.now(UTC)

    first = await records.apply_decision(
        store, sub, decision, submitted_event_id="e1", decision_event_id="d1", status="routed", at=now
    )
    again = await records.apply_decision(
        store, sub, decision, submitted_event_id="e1", decision_event_id="d1", status="routed", at=now
    )

    assert (first, again) == (True, False)
    doc = await records.find(store, sub.complaint_id)
    assert doc is not None
    assert [t["type"] for t in doc["timeline"]] == ["received", "routed"]
    assert doc["status"] == "routed" and doc["department"] == "lighting"


async def test_router_before_intake_keeps_the_routed_state(store: Store) -> None:
    sub = submitted()
    now = datetime.now(UTC)
    await records.apply_decision(
        store, sub, routed(sub), submitted_event_id="e1", decision_event_id="d1", status="routed", at=now
    )

    # intake's best-effort write arrives late: it must not undo the decision.
    await records.record_received(store, sub, event_id="e1")

    doc = await records.find_by_tracking_code(store, sub.tracking_code)
    assert doc is not None and doc["status"] == "routed"
    assert [t["type"] for t in doc["timeline"]] == ["received", "routed"]


async def test_tracking_code_is_handed_out_once(store: Store) -> None:
    now = datetime.now(UTC)

    assert await records.reserve_tracking_code(store, "1234567897", "a", now) is True
    assert await records.reserve_tracking_code(store, "1234567897", "b", now) is False


async def test_writers_of_one_record_side_by_side_lose_nothing(
    store: Store, publisher: KafkaPublisher
) -> None:
    # FerretDB v1 applies an update as a read then a write of the whole document: two updates of one
    # record at once could keep only one. The events agent's writes and the SLA timer's take turns
    # within a process (records.writing); without that, 7 of the 30 notes were kept.
    sub = submitted()
    now = records.store_precision(datetime.now(UTC))
    overdue = {"sla": {"start": now - timedelta(days=3), "warn_at": now - timedelta(days=2), "due_at": now}}
    await records.apply_decision(
        store, sub, routed(sub), submitted_event_id="e1", decision_event_id="d1", status="routed",
        at=now - timedelta(days=3), extra=overdue,
    )  # fmt: skip
    staff = [
        records.apply_event(
            store,
            sub.complaint_id,
            event_id=f"note-{n}",
            entry=records.timeline_entry("note", now, event_id=f"note-{n}"),
            fields={f"notes.n{n}": True},
        )
        for n in range(30)
    ]
    escalated = sla.scan(store=store, publisher=publisher, now=now + timedelta(seconds=1))
    *applied, published = await asyncio.gather(*staff, escalated)

    assert all(applied) and published["escalation"] == 1
    doc = await records.find(store, sub.complaint_id)
    assert doc is not None
    assert len([t for t in doc["timeline"] if t["type"] == "note"]) == 30
    assert len(doc["notes"]) == 30 and len(doc["applied_events"]) == 32  # e1, d1 and the notes
    assert doc["sla"]["escalation"]["sent"] is True
