"""Counting complaint events into the public rollups (services/stats.py), once per event.

The router calls :func:`count` for every message on ``pasokh.complaints.events`` after it has applied
it to the record. Counted: the first decision (routed / triage-needed) as a submission, each resolution
(staff ``resolved`` or a partner's ``status-updated`` to resolved) with its time to resolve and whether it
met the due time, and the citizen's survey answer (``rated``; the first answer per complaint counts).
A staff reassignment moves the complaint's submission to its new category and department (the record
keeps where it was counted, ``counted_as``). It also brings the complaint's entry in the staff inbox's
read model (services/inbox.py) up to date.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services import inbox, stats
from services.contracts.actions import ComplaintReassigned, ComplaintResolved
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


def _dims(doc: Doc) -> Doc:
    return {
        "category": doc.get("category") or stats.NONE,
        "department": doc.get("department") or stats.NONE,
        "district": str(doc.get("district") or stats.NONE)[:100],
    }


def _keys(doc: Doc, at: datetime) -> list[Doc]:
    dims = _dims(doc)
    return stats.rollup_keys(stats.local_day(at), dims["category"], dims["department"], dims["district"])


async def _move_submission(envelope: Envelope, doc: Doc, *, store: Store) -> bool:
    """A reassignment moves the complaint's submission to its new category and department, so a
    complaint sent to triage and then reassigned is not left counted under the triage guess (``other``).

    The record keeps where its submission was counted (``counted_as``); one predating that field was
    counted under the reassignment's ``from_*``."""
    if envelope.id not in doc.get("applied_events", ()):
        return False
    counted = doc.get("counted_as")
    if counted is None:
        action = envelope.payload(ComplaintReassigned)
        counted = {
            **_dims(doc),
            "category": action.from_category or stats.NONE,
            "department": action.from_department or stats.NONE,
        }
    now = _dims(doc)
    if counted == now:
        return False
    if not await stats.claim(store, doc["_id"], envelope.id, {"counted_as": now}):
        return False
    day = stats.local_day(doc["created_at"])
    before = {k["_id"]: k for k in stats.rollup_keys(day, *(counted[d] for d in stats.DIMENSIONS))}
    after = {k["_id"]: k for k in stats.rollup_keys(day, *(now[d] for d in stats.DIMENSIONS))}
    await stats.add(store, [k for i, k in before.items() if i not in after], stats.increments(submitted=-1))
    await stats.add(store, [k for i, k in after.items() if i not in before], stats.increments(submitted=1))
    return True


async def count(envelope: Envelope, *, store: Store) -> bool:
    """Sync the complaint's inbox entry, then add ``envelope`` to the rollups unless it was counted
    before; True when it was counted now."""
    complaint_id = envelope.subject
    doc = await store.complaints.find_one({"_id": complaint_id}) if complaint_id else None
    if doc is None:
        return False
    await inbox.sync(store, doc)
    if envelope.type == ComplaintReassigned.TYPE:
        return await _move_submission(envelope, doc, store=store)
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
    counted_as = {"counted_as": _dims(doc)} if envelope.type in DECISIONS else None
    if not await stats.claim(store, doc["_id"], envelope.id, counted_as):
        return False
    await stats.add(store, _keys(doc, at), inc)
    log.debug("counted", extra={"complaint_id": doc["_id"], "event_id": envelope.id})
    return True
