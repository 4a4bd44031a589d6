"""The notification record: written before an SMS is sent, so that no SMS is sent twice.

``_id`` is derived from (cause event id, recipient, template); a second delivery of the same event
finds the record. States: ``deferred`` (waits for ``send_at``: quiet hours, coalescing, a survey's
delay, the per-phone limit) → ``sending`` → ``sent`` | ``failed``; or ``superseded`` (a later SMS about
the same complaint replaced it) or ``suppressed`` (the citizen opted out). A record left in state
``sending`` by a crash is sent again with the same SMS id, which idempotent providers drop as a repeat.
The record keeps the text and the sealed phone (never the phone in clear) so that it can be resumed.
``attempts`` counts the tries begun; the batched path (notifier/batch.py) claims many records in one
:func:`claim_many` with the first try already counted, and marks them sent with :func:`finish_many`.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.records import DUPLICATE_KEY
from services.store import Doc, Store


def new_record(
    notification_id: str, fields: dict[str, Any], now: datetime, *, state: str = "sending", attempts: int = 0
) -> Doc:
    """The record as :func:`claim` and :func:`claim_many` insert it."""
    doc = {"_id": notification_id, "state": state, "attempts": attempts, "created_at": now, **fields}
    if state == "sending":
        doc["taken_at"] = now
    return doc


async def claim(
    store: Store, notification_id: str, fields: dict[str, Any], now: datetime, *, state: str = "sending"
) -> tuple[Doc, bool]:
    """Create the record in ``state``; return (record, True), or (the earlier record, False)."""
    try:
        doc = new_record(notification_id, fields, now, state=state)
        await store.notifications.insert_one(doc)
        return doc, True
    except DuplicateKeyError:
        existing = await store.notifications.find_one({"_id": notification_id})
        assert existing is not None
        return existing, False


async def claim_many(store: Store, docs: list[Doc]) -> set[int]:
    """Insert many :func:`new_record` documents in one round trip; the positions of those refused
    because a record with the same id exists (an event seen before: the caller looks at that record)."""
    if not docs:
        return set()
    try:
        await store.notifications.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {int(e["index"]) for e in errors}
    return set()


async def finish_many(
    store: Store, finished: list[tuple[str, str, datetime, dict[str, Any]]], *, chunk: int = 20
) -> None:
    """:func:`finish` for many records, (id, state, at, fields) each: one ``bulk_write`` per ``chunk``
    records, the chunks at once. FerretDB v1 applies the updates of one bulk write one after the
    other (3–6 ms each on PostgreSQL); several smaller ones in parallel take a fifth of that per record."""
    if not finished:
        return
    updates = [
        (
            notification_id,
            UpdateOne({"_id": notification_id}, {"$set": {"state": state, f"{state}_at": at, **fields}}),
        )
        for notification_id, state, at, fields in finished
    ]

    async def write(part: list[tuple[str, UpdateOne]]) -> None:
        async with AsyncExitStack() as held:
            for notification_id in sorted(n for n, _ in part):  # one order: no two writers wait on each other
                await held.enter_async_context(writing(store, notification_id))
            await store.notifications.bulk_write([update for _, update in part], ordered=False)

    await asyncio.gather(*(write(updates[start : start + chunk]) for start in range(0, len(updates), chunk)))


def writing(store: Store, notification_id: str) -> AbstractAsyncContextManager[None]:
    """Hold while updating a record that another task of this process may update at the same moment
    (marking it sent or failed, and a delivery report for it): FerretDB v1 can lose one of two
    concurrent updates of a document (docs/infrastructure.md)."""
    return store.serial(f"notification:{notification_id}")


async def of_recipient(store: Store, recipient_hash: str) -> list[Doc]:
    """Every SMS record of one phone, reduced to what the coalescing and the per-phone limit look at
    (one query on an indexed field, served by the ``by_recipient`` index)."""
    cursor = store.notifications.find(
        {"recipient_hash": recipient_hash}, {"group": 1, "state": 1, "event_at": 1, "sent_at": 1}
    )
    return await cursor.to_list()


async def count_attempt(store: Store, notification_id: str) -> int:
    """Add one to the record's attempts; return the new count."""
    doc = await store.notifications.find_one_and_update(
        {"_id": notification_id}, {"$inc": {"attempts": 1}}, return_document=ReturnDocument.AFTER
    )
    return int(doc["attempts"]) if doc else 0


async def finish(
    store: Store,
    notification_id: str,
    state: str,
    at: datetime,
    reason: str | None = None,
    *,
    fields: dict[str, Any] | None = None,
) -> None:
    """Mark the record ``sent`` or ``failed`` (with ``fields``, e.g. the provider's message id)."""
    update: dict[str, Any] = {"state": state, f"{state}_at": at, **(fields or {})}
    if reason:
        update["reason"] = reason
    async with writing(store, notification_id):
        await store.notifications.update_one({"_id": notification_id}, {"$set": update})


async def supersede(store: Store, group: str, *, before: datetime, keep: str) -> int:
    """Mark every deferred record of ``group`` about an older state than ``before`` superseded."""
    result = await store.notifications.update_many(
        {"group": group, "state": "deferred", "event_at": {"$lte": before}, "_id": {"$ne": keep}},
        {"$set": {"state": "superseded", "superseded_by": keep}},
    )
    return int(result.modified_count)


async def newer_in_group(store: Store, group: str, event_at: datetime, notification_id: str) -> bool:
    """Whether a deferred or sent record of ``group`` reports a newer state than ``event_at``."""
    doc = await store.notifications.find_one(
        {
            "group": group,
            "state": {"$in": ["deferred", "sending", "sent"]},
            "event_at": {"$gt": event_at},
            "_id": {"$ne": notification_id},
        }
    )
    return doc is not None


async def due(store: Store, now: datetime, *, limit: int = 200) -> list[Doc]:
    """Deferred records whose time has come, oldest first (so the morning keeps the night's order)."""
    cursor = store.notifications.find({"state": "deferred", "send_at": {"$lte": now}})
    return await cursor.sort([("send_at", ASCENDING), ("created_at", ASCENDING)]).limit(limit).to_list()


async def stale(store: Store, now: datetime, after: timedelta, *, limit: int = 200) -> list[Doc]:
    """Records left ``sending`` longer than ``after``: their sender died; they are sent again."""
    # Only SMS records carry their text; department notices are resumed by the event's redelivery.
    query = {"state": "sending", "taken_at": {"$lte": now - after}, "text": {"$exists": True}}
    cursor = store.notifications.find(query)
    return await cursor.sort([("taken_at", ASCENDING)]).limit(limit).to_list()


async def take(
    store: Store, notification_id: str, state: str, now: datetime, *, taken_before: datetime | None = None
) -> Doc | None:
    """Move the record from ``state`` to ``sending`` unless another worker took it first."""
    update = {"$set": {"state": "sending", "taken_at": now}}
    query: Doc = {"_id": notification_id, "state": state}
    if taken_before is not None:
        query["taken_at"] = {"$lte": taken_before}  # two workers resuming one stale record: one wins
    return await store.notifications.find_one_and_update(query, update, return_document=ReturnDocument.AFTER)


async def defer(
    store: Store, notification_id: str, send_at: datetime, *, attempts: int | None = None
) -> None:
    """Put a record back to wait until ``send_at`` (the per-phone limit was reached); ``attempts``
    resets a try that was counted at the claim but not made."""
    update: Doc = {"state": "deferred", "send_at": send_at}
    if attempts is not None:
        update["attempts"] = attempts
    await store.notifications.update_one({"_id": notification_id}, {"$set": update})


async def sent_since(store: Store, recipient_hash: str, since: datetime) -> list[datetime]:
    """When SMS to this recipient were sent since ``since`` (for the per-phone limit)."""
    cursor = store.notifications.find(
        {"recipient_hash": recipient_hash, "state": "sent", "sent_at": {"$gt": since}}, {"sent_at": 1}
    )
    return sorted(doc["sent_at"] for doc in await cursor.to_list())


async def cancel_group(store: Store, group: str, reason: str) -> int:
    """Drop every deferred record of ``group`` (a survey of a complaint that was reopened)."""
    result = await store.notifications.update_many(
        {"group": group, "state": "deferred"}, {"$set": {"state": "superseded", "reason": reason}}
    )
    return int(result.modified_count)


async def ensure_indexes(store: Store) -> None:
    """Indexes of the deferred-SMS sender and the per-phone limit (idempotent)."""
    await store.notifications.create_index([("state", ASCENDING), ("send_at", ASCENDING)], name="due")
    await store.notifications.create_index([("group", ASCENDING), ("state", ASCENDING)], name="by_group")
    await store.notifications.create_index(
        [("recipient_hash", ASCENDING), ("state", ASCENDING), ("sent_at", ASCENDING)], name="by_recipient"
    )
