"""The retention sweeper on the real MongoDB-wire server: closed and old → anonymised, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services import records, retention
from services.contracts.complaints import Location
from services.store import Doc, Store
from tests.factories import submitted

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


async def _stored(
    store: Store, *, status: str, updated_days_ago: int | None, created_days_ago: int = 500
) -> str:
    sub = submitted(
        "من علی رضایی هستم، شماره‌ام ۰۹۱۲۱۲۳۴۵۶۷، چراغ کوچه خاموش است",
        address="خیابان بهار، پلاک ۱۲",
        location=Location(lat=35.83567, lon=50.99123),
        media_urls=["https://photos.example/1.jpg"],
        submitted_at=NOW - timedelta(days=created_days_ago),
    )
    await records.record_received(store, sub, event_id=f"e-{sub.complaint_id}")
    fields: Doc = {"status": status, "district": "3", "category": "lighting"}
    if updated_days_ago is not None:
        fields["updated_at"] = NOW - timedelta(days=updated_days_ago)
    await store.complaints.update_one({"_id": sub.complaint_id}, {"$set": fields})
    await store.notifications.insert_one(
        {
            "_id": f"n-{sub.complaint_id}",
            "complaint_id": sub.complaint_id,
            "phone_sealed": "x",
            "phone_hash": "y",
        }
    )
    return sub.complaint_id


async def test_closed_complaints_past_the_period_lose_personal_data_and_nothing_else(store: Store) -> None:
    old_resolved = await _stored(store, status="resolved", updated_days_ago=400)
    old_duplicate = await _stored(store, status="duplicate", updated_days_ago=None)
    recent_resolved = await _stored(store, status="resolved", updated_days_ago=10)
    old_open = await _stored(store, status="acknowledged", updated_days_ago=400)

    done = await retention.sweep(store, now=NOW, closed_days=365, batch=1)

    assert done == 2
    for complaint_id in (old_resolved, old_duplicate):
        doc = await records.find(store, complaint_id)
        assert doc is not None
        assert not set(retention.COMPLAINT_FIELDS) & doc.keys()
        assert doc["text"] == "" and doc["anonymised_at"] == NOW
        assert doc["location"] == {"lat": 35.84, "lon": 50.99}
        assert (doc["status"], doc["district"], doc["category"]) == (doc["status"], "3", "lighting")
        note = await store.notifications.find_one({"complaint_id": complaint_id})
        assert note is not None and "phone_sealed" not in note and "phone_hash" not in note
    for complaint_id in (recent_resolved, old_open):
        doc = await records.find(store, complaint_id)
        assert doc is not None and doc["phone_sealed"] and "علی" in doc["text"] and "anonymised_at" not in doc
        note = await store.notifications.find_one({"complaint_id": complaint_id})
        assert note is not None and note["phone_sealed"] == "x"
    assert await retention.sweep(store, now=NOW, closed_days=365) == 0
