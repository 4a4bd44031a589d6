"""The complaint record's idempotent writes, on the real MongoDB-wire server."""

from __future__ import annotations

from datetime import UTC, datetime

from services import records
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
