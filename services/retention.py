"""Retention: personal data of closed complaints is removed after a configurable period.

What stays is what the statistics and the public timeline need (category, department, district,
status, times, staff notes); what goes is what could identify the citizen: the sealed phone and its
lookup hash, the free text (people write names and numbers into it), the address, photo links,
partner attributes, and the exact map pin (rounded to about 1 km, enough for district statistics).
The SMS records of those complaints lose the phone too. Each pass is idempotent and works in
batches, so it can run on a timer and be interrupted at any moment.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from services import records
from services.store import Doc, Store

log = logging.getLogger(__name__)

# Closed for good; a reopened complaint is open again and keeps its data until closed again.
CLOSED = ("resolved", "rejected", "duplicate")
COMPLAINT_FIELDS = ("phone_sealed", "phone_hash", "address", "media_urls", "attributes")
NOTIFICATION_FIELDS = ("phone_sealed", "phone_hash")
# Two decimals of a degree: about 1.1 km north-south, 0.9 km east-west at Tehran's latitude.
LOCATION_DECIMALS = 2


def _due(cutoff: datetime) -> Doc:
    return {
        "status": {"$in": list(CLOSED)},
        "anonymised_at": {"$exists": False},
        "$or": [
            {"updated_at": {"$lte": cutoff}},
            {"updated_at": {"$exists": False}, "created_at": {"$lte": cutoff}},
        ],
    }


def _coarse(location: Doc | None) -> Doc | None:
    if not location:
        return None
    return {k: round(float(location[k]), LOCATION_DECIMALS) for k in ("lat", "lon") if k in location}


async def sweep(store: Store, *, now: datetime, closed_days: int, batch: int = 500) -> int:
    """Anonymise every complaint closed at least ``closed_days`` before ``now``; the number done."""
    cutoff = now - timedelta(days=closed_days)
    done = 0
    while True:
        found = store.complaints.find(_due(cutoff), {"_id": 1, "location": 1}).limit(batch)
        docs = [doc async for doc in found]
        if not docs:
            return done
        before = done
        for doc in docs:
            update: Doc = {
                "$unset": dict.fromkeys(COMPLAINT_FIELDS, ""),
                "$set": {"anonymised_at": now, "text": ""},
            }
            if (location := _coarse(doc.get("location"))) is not None:
                update["$set"]["location"] = location
            # The filter repeats the condition: a complaint reopened meanwhile is left alone.
            async with records.writing(store, doc["_id"]):
                result = await store.complaints.update_one({"_id": doc["_id"], **_due(cutoff)}, update)
            done += result.modified_count
        ids = [doc["_id"] for doc in docs]
        await store.notifications.update_many(
            {"complaint_id": {"$in": ids}}, {"$unset": dict.fromkeys(NOTIFICATION_FIELDS, "")}
        )
        log.info("anonymised closed complaints", extra={"count": done - before})
        if done == before:  # every one changed status meanwhile: nothing more to do on this pass
            return done
