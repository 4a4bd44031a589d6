"""Counting complaint events into the public rollups (services/stats.py), once per event.

The router calls :func:`count` for every message on ``pasokh.complaints.events`` after it has applied
it to the record. Counted: the first decision (routed / triage-needed) as a submission, each resolution
(staff ``resolved`` or a partner's ``status-updated`` to resolved) with its time to resolve and whether it
met the due time, and the citizen's survey answer (``rated``; the first answer per complaint counts).
It also brings the complaint's entry in the staff inbox's read model (services/inbox.py) up to date.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services import inbox, stats
from services.contracts.actions import ComplaintResolved
from services.contracts.complaints import (
    ComplaintRated,
    ComplaintRouted,
    ComplaintStatusUpdated,
    ComplaintTriageNeeded,
)
from services.contracts.envelope import Envelope
from services.store import Doc, Store

log = logging.getLogger(__name__)
DECISIONS = frozenset({ComplaintRouted.TYPE, ComplaintTriageNeeded.TYPE})
COUNTED = DECISIONS | {ComplaintResolved.TYPE, ComplaintStatusUpdated.TYPE, ComplaintRated.TYPE}


def _keys(doc: Doc, at: datetime) -> list[Doc]:
    return stats.rollup_keys(
        stats.local_day(at),
        doc.get("category") or stats.NONE,
        doc.get("department") or stats.NONE,
        str(doc.get("district") or stats.NONE)[:100],
    )


async def count(envelope: Envelope, *, store: Store) -> bool:
    """Sync the complaint's inbox entry, then add ``envelope`` to the rollups unless it was counted
    before; True when it was counted now."""
    complaint_id = envelope.subject
    doc = await store.complaints.find_one({"_id": complaint_id}) if complaint_id else None
    if doc is None:
        return False
    await inbox.sync(store, doc)
    if envelope.type not in COUNTED:
        return False
    if envelope.type == ComplaintStatusUpdated.TYPE:
        update = envelope.payload(ComplaintStatusUpdated)
        if update.status != "resolved":
            return False
    if envelope.type == ComplaintRated.TYPE:
        rated = envelope.payload(ComplaintRated)
        # The survey belongs to a resolved complaint; its first answer counts and is kept on the record.
        if doc.get("rating") is not None or doc.get("status") != "resolved":
            return False
        if not await stats.claim(store, doc["_id"], envelope.id, {"rating": rated.rating}):
            return False
        await stats.add(store, _keys(doc, rated.answered_at), stats.increments(rating=rated.rating))
        return True
    # Decisions and resolutions count only once the record holds them (a refused action does not).
    if envelope.id not in doc.get("applied_events", ()):
        return False
    if envelope.type in DECISIONS:
        inc = stats.increments(submitted=1)
        at: datetime = doc["created_at"]
    else:
        resolved_at: datetime | None = doc.get("resolved_at")
        if doc.get("status") != "resolved" or resolved_at is None:
            return False
        hours = max(0.0, (resolved_at - doc["created_at"]).total_seconds() / 3600)
        due: datetime | None = doc.get("due_at")
        inc = stats.increments(resolved_hours=hours, in_sla=None if due is None else resolved_at <= due)
        at = resolved_at
    if not await stats.claim(store, doc["_id"], envelope.id):
        return False
    await stats.add(store, _keys(doc, at), inc)
    log.debug("counted", extra={"complaint_id": doc["_id"], "event_id": envelope.id})
    return True
