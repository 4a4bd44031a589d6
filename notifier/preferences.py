"""Citizens' SMS preferences, keyed by the phone's keyed hash (never the phone): opted out or not.

A later message wins: an opt-out and an opt-in processed out of order leave the newer one in force.
The record keeps the phone sealed too, so that ``pasokh keys rotate-secret`` can re-key it under the
new secret's hash (services.keyrotation); while a rotation is under way a citizen's choice may sit
under the old hash and the new one, and the newer record wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from services.store import Store

COLLECTION = "sms_preferences"


async def set_opted_out(
    store: Store, phone_hash: str, opted_out: bool, at: datetime, *, phone_sealed: str | None = None
) -> bool:
    """Record the citizen's choice made at ``at``; False if a newer choice is already recorded."""
    prefs = store.db[COLLECTION]
    choice = {"opted_out": opted_out, "at": at} | ({"phone_sealed": phone_sealed} if phone_sealed else {})
    result = await prefs.update_one({"_id": phone_hash, "at": {"$lte": at}}, {"$set": choice})
    if result.matched_count:
        return True
    try:
        await prefs.insert_one({"_id": phone_hash, **choice})
    except DuplicateKeyError:
        return False  # a newer choice exists
    return True


async def opted_out(store: Store, phone_hash: str | Sequence[str]) -> bool:
    """Whether the citizen asked for no SMS; several hashes (one per key while rotating): the newest wins."""
    if isinstance(phone_hash, str):
        doc = await store.db[COLLECTION].find_one({"_id": phone_hash})
    else:
        found = store.db[COLLECTION].find({"_id": {"$in": list(phone_hash)}})
        docs = [d async for d in found]
        doc = max(docs, key=lambda d: d["at"]) if docs else None
    return bool(doc and doc.get("opted_out"))
