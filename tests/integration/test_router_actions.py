"""The router applies partner status updates once, under the complaint lifecycle (real MongoDB)."""

from __future__ import annotations

from datetime import UTC, datetime

from router.actions import apply_status_update
from services import records
from services.contracts.complaints import ComplaintStatusUpdated
from services.contracts.envelope import Envelope, from_kafka, new_event, to_kafka
from services.store import Store
from tests.factories import routed, submitted


async def routed_complaint(store: Store) -> str:
    sub = submitted()
    decision = routed(sub)
    now = records.store_precision(datetime.now(UTC))
    await records.apply_decision(
        store, sub, decision, submitted_event_id="s", decision_event_id="d", status="routed", at=now
    )
    return sub.complaint_id


def update(complaint_id: str, status: str, note: str | None = None) -> Envelope:
    payload = ComplaintStatusUpdated(
        complaint_id=complaint_id,
        status=status,  # type: ignore[arg-type]
        note=note,
        internal_note="WO-77 crew B",
        external_id="WO-77",
        updated_at=records.store_precision(datetime.now(UTC)),
    )
    key, value = to_kafka(new_event(payload, subject=complaint_id, source="/partners/lighting-wo"))
    return from_kafka(value, key)


async def test_work_order_updates_follow_the_lifecycle_once(store: Store) -> None:
    cid = await routed_complaint(store)
    started = update(cid, "in_progress", "تیم اعزام شد")
    done = update(cid, "resolved", "لامپ تعویض شد")

    assert await apply_status_update(started, store=store) is True
    assert await apply_status_update(started, store=store) is False  # redelivery
    assert await apply_status_update(update(cid, "in_progress"), store=store) is True
    assert await apply_status_update(done, store=store) is True
    assert await apply_status_update(update(cid, "acknowledged"), store=store) is False  # resolved already

    doc = await records.find(store, cid)
    assert doc is not None and doc["status"] == "resolved" and "resolved_at" in doc
    public = [(t["type"], t.get("note")) for t in doc["timeline"] if t.get("public", True)]
    assert public == [
        ("received", None),
        ("routed", None),
        ("in_progress", "تیم اعزام شد"),
        ("in_progress", None),
        ("resolved", "لامپ تعویض شد"),
    ]
    assert doc["timeline"][-1]["internal_note"] == "WO-77 crew B"


async def test_update_for_an_unknown_complaint_changes_nothing(store: Store) -> None:
    assert await apply_status_update(update("no-such-complaint", "resolved"), store=store) is False
