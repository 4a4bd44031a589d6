"""The notification record: written before an SMS is sent, so that no SMS is sent twice.

``_id`` is derived from (cause event id, recipient, template); a second delivery of the same event
finds the record. A record left in state ``sending`` by a crash is sent again with the same SMS id,
which idempotent providers drop as a repeat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.store import Doc, Store


async def claim(store: Store, notification_id: str, fields: dict[str, Any], now: datetime) -> Doc:
    """Create the record in state ``sending``, or return the one an earlier delivery created."""
    try:
        doc = {"_id": notification_id, "state": "sending", "attempts": 0, "created_at": now, **fields}
        await store.notifications.insert_one(doc)
        return doc
    except DuplicateKeyError:
        existing = await store.notifications.find_one({"_id": notification_id})
        assert existing is not None
        return existing


async def count_attempt(store: Store, notification_id: str) -> int:
    """Add one to the record's attempts; return the new count."""
    doc = await store.notifications.find_one_and_update(
        {"_id": notification_id}, {"$inc": {"attempts": 1}}, return_document=ReturnDocument.AFTER
    )
    return int(doc["attempts"]) if doc else 0


async def finish(
    store: Store, notification_id: str, state: str, at: datetime, reason: str | None = None
) -> None:
    """Mark the record ``sent`` or ``failed``."""
    update: dict[str, Any] = {"state": state, f"{state}_at": at}
    if reason:
        update["reason"] = reason
    await store.notifications.update_one({"_id": notification_id}, {"$set": update})
