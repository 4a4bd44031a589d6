"""The complaint record in MongoDB: its shape and the idempotent writes the services make to it.

Every write that comes from an event is applied at most once: the event id is kept in
``applied_events`` and the update's filter excludes records that already hold it, so a redelivered
event changes nothing.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.contracts.complaints import ComplaintSubmitted, Decision
from services.store import Doc, Store

# The server's error code for a unique index violation.
DUPLICATE_KEY = 11000


def store_precision(at: datetime) -> datetime:
    """``at`` cut to milliseconds, the precision BSON keeps, so stored and announced times agree."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def timeline_entry(
    kind: str, at: datetime, *, event_id: str, note: str | None = None, public: bool = True
) -> Doc:
    """One line of a complaint's history."""
    entry: Doc = {"type": kind, "at": at, "event_id": event_id, "public": public}
    if note:
        entry["note"] = note
    return entry


def _base_fields(submitted: ComplaintSubmitted) -> Doc:
    doc: Doc = {
        "tracking_code": submitted.tracking_code,
        "text": submitted.text,
        "channel": submitted.channel,
        "created_at": submitted.submitted_at,
    }
    optional: dict[str, Any] = {
        "category_hint": submitted.category_hint,
        "address": submitted.address,
        "district": submitted.district,
        "phone_sealed": submitted.phone_sealed,
        "phone_hash": submitted.phone_hash,
        "location": submitted.location.model_dump() if submitted.location else None,
        "media_urls": submitted.media_urls or None,
        "attributes": submitted.attributes or None,
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    return doc


async def reserve_tracking_code(store: Store, code: str, complaint_id: str, at: datetime) -> bool:
    """Claim ``code`` for ``complaint_id``; False if another complaint holds it already."""
    try:
        await store.tracking_codes.insert_one({"_id": code, "complaint_id": complaint_id, "at": at})
    except DuplicateKeyError:
        return False
    return True


def _duplicate_indexes(error: BulkWriteError) -> set[int]:
    """Positions of the documents an unordered insert_many refused as duplicates; re-raises on others."""
    errors = error.details.get("writeErrors", [])
    if any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise error
    return {int(e["index"]) for e in errors}


async def reserve_tracking_codes(store: Store, codes: list[str], at: datetime) -> list[str]:
    """Claim many codes in one round trip, for a pool to hand out later; returns those now held.

    A code is unique once its insert succeeds; the complaint it goes to is on the complaint's record.
    """
    if not codes:
        return []
    try:
        await store.tracking_codes.insert_many([{"_id": c, "at": at} for c in codes], ordered=False)
    except BulkWriteError as exc:
        taken = _duplicate_indexes(exc)
        return [c for i, c in enumerate(codes) if i not in taken]
    return list(codes)


def received_record(submitted: ComplaintSubmitted, *, event_id: str) -> Doc:
    """The record of a complaint nobody has decided on yet."""
    return {
        "_id": submitted.complaint_id,
        **_base_fields(submitted),
        "status": "received",
        "language": submitted.language or "fa",
        "timeline": [timeline_entry("received", submitted.submitted_at, event_id=event_id)],
        "applied_events": [event_id],
    }


async def record_received(store: Store, submitted: ComplaintSubmitted, *, event_id: str) -> None:
    """Create the record as ``received`` unless the router got there first (then leave it be)."""
    # An insert that may collide, rather than an upsert: FerretDB's SQLite backend answers inserts
    # about ten times faster than upserts, and this is on every submission's path.
    try:
        await store.complaints.insert_one(received_record(submitted, event_id=event_id))
    except DuplicateKeyError:
        pass


async def record_received_many(store: Store, docs: list[Doc]) -> None:
    """Insert many :func:`received_record` documents in one round trip; existing records stay as they are."""
    if not docs:
        return
    try:
        await store.complaints.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        _duplicate_indexes(exc)


async def insert_new(store: Store, docs: list[Doc]) -> set[int]:
    """Insert complaint records in one round trip; the positions of those refused because a record
    with the same id exists (the caller updates those instead)."""
    if not docs:
        return set()
    try:
        await store.complaints.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        return _duplicate_indexes(exc)
    return set()


def writing(store: Store, complaint_id: str) -> AbstractAsyncContextManager[None]:
    """Hold while updating ``complaint_id``'s record: this process's writers of one record (the events
    agent, the SLA timer, the retention sweep) take turns, as FerretDB v1 can lose one of two
    concurrent updates of a document (docs/infrastructure.md)."""
    return store.serial(f"complaint:{complaint_id}")


async def apply_decision(
    store: Store,
    submitted: ComplaintSubmitted,
    decision: Decision,
    *,
    submitted_event_id: str,
    decision_event_id: str,
    status: str,
    at: datetime,
    extra: Doc | None = None,
) -> bool:
    """Store the router's decision once; False if ``decision_event_id`` was applied before.

    ``extra`` fields are set too (the district, the SLA deadlines, a duplicate's link), over the
    decision's own.
    """
    # The record may not exist yet: intake writes it best effort, after Kafka has the event.
    await record_received(store, submitted, event_id=submitted_event_id)
    async with writing(store, submitted.complaint_id):
        result = await store.complaints.update_one(
            {"_id": submitted.complaint_id, "applied_events": {"$ne": decision_event_id}},
            {
                "$set": {
                    "status": status,
                    "category": decision.category,
                    "department": decision.department,
                    "priority": decision.priority,
                    "language": decision.language,
                    "due_at": decision.due_at,
                    "decided_at": at,
                    "classifier": {"name": decision.classifier, "confidence": decision.confidence},
                    **(extra or {}),
                },
                "$push": {"timeline": timeline_entry(status, at, event_id=decision_event_id)},
                "$addToSet": {"applied_events": decision_event_id},
            },
        )
    return result.modified_count == 1


async def apply_event(
    store: Store, complaint_id: str, *, event_id: str, entry: Doc, fields: Doc | None = None
) -> bool:
    """Add ``entry`` to the timeline and set ``fields``, once per ``event_id``; False if applied before
    (or if there is no such complaint)."""
    update: Doc = {"$push": {"timeline": entry}, "$addToSet": {"applied_events": event_id}}
    if fields:
        update["$set"] = fields
    async with writing(store, complaint_id):
        result = await store.complaints.update_one(
            {"_id": complaint_id, "applied_events": {"$ne": event_id}}, update
        )
    return bool(result.modified_count == 1)


async def find(store: Store, complaint_id: str) -> Doc | None:
    """The record of ``complaint_id``, or None."""
    return await store.complaints.find_one({"_id": complaint_id})


async def find_by_tracking_code(store: Store, code: str) -> Doc | None:
    """The record with tracking code ``code``, or None."""
    return await store.complaints.find_one({"tracking_code": code})
