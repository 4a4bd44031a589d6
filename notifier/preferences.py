"""Citizens' SMS preferences, keyed by the phone's keyed hash (never the phone): opted out or not.

A later message wins: an opt-out and an opt-in processed out of order leave the newer one in force.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from services.store import Store

COLLECTION = "sms_preferences"


async def set_opted_out(store: Store, phone_hash: str, opted_out: bool, at: datetime) -> bool:
    """Record the citizen's choice made at ``at``; False if a newer choice is already recorded."""
    prefs = store.db[COLLECTION]
    result = await prefs.update_one(
        {"_id": phone_hash, "at": {"$lte": at}}, {"$set": {"opted_out": opted_out, "at": at}}
    )
    if result.matched_count:
        return True
    try:
        await prefs.insert_one({"_id": phone_hash, "opted_out": opted_out, "at": at})
    except DuplicateKeyError:
        return False  # a newer choice exists
    return True


async def opted_out(store: Store, phone_hash: str) -> bool:
    """Whether the citizen asked for no SMS."""
    doc = await store.db[COLLECTION].find_one({"_id": phone_hash})
    return bool(doc and doc.get("opted_out"))
