"""The staff inbox's read model: one small document per open complaint, kept in step by the router.

The console lists open complaints by department and status, most urgent due time first. MongoDB-wire
servers like FerretDB read and sort whole records in the server process, so listing from the
complaints themselves (timelines and all) is slow at 100,000 complaints (docs/web.md). The router
calls :func:`sync` after every complaint event it applied: the entry is rewritten from the record's
current state (so a repeat changes nothing) and removed once the complaint is closed.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING

from services.store import Doc, Store

COLLECTION = "inbox"
LISTED = frozenset({"routed", "triage", "acknowledged", "reopened"})
EXCERPT = 160
_COPIED = ("tracking_code", "status", "category", "department", "district", "due_at", "created_at")


def collection(store: Store) -> Any:
    """The inbox collection."""
    return store.db[COLLECTION]


def entry(doc: Doc) -> Doc | None:
    """The inbox entry of a complaint record, or None when it is not listed (closed, or not decided)."""
    if doc.get("status") not in LISTED:
        return None
    found: Doc = {"_id": doc["_id"], **{k: doc.get(k) for k in _COPIED}}
    found["text"] = str(doc.get("text") or "")[:EXCERPT]
    found["confidence"] = (doc.get("classifier") or {}).get("confidence")
    return found


async def sync(store: Store, doc: Doc) -> None:
    """Make the complaint's inbox entry match its record."""
    listed = entry(doc)
    if listed is None:
        await collection(store).delete_one({"_id": doc["_id"]})
    else:
        await collection(store).replace_one({"_id": doc["_id"]}, listed, upsert=True)


async def ensure_indexes(store: Store) -> None:
    """The inbox's order: department, status, due time."""
    await collection(store).create_index(
        [("department", ASCENDING), ("status", ASCENDING), ("due_at", ASCENDING)], name="inbox"
    )
