"""Applying staff actions (acknowledge, comment, reassign, resolve, reject, reopen) to the record."""

from __future__ import annotations

import logging

from router.metrics import ACTIONS
from services import records
from services.contracts.actions import (
    ComplaintAcknowledged,
    ComplaintCommented,
    ComplaintReassigned,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    StaffAction,
)
from services.contracts.envelope import Envelope
from services.lifecycle import InvalidTransition, next_status
from services.store import Doc, Store

log = logging.getLogger(__name__)

MODELS: dict[str, type[StaffAction]] = {
    model.TYPE: model
    for model in (
        ComplaintAcknowledged,
        ComplaintCommented,
        ComplaintReassigned,
        ComplaintResolved,
        ComplaintRejected,
        ComplaintReopened,
    )
}


def _change(action: StaffAction, status: str) -> tuple[Doc, Doc]:
    """(fields to set, timeline entry) for ``action``."""
    kind = action.TYPE.rsplit(".", 1)[-1]
    actor = {"actor_id": action.actor_id, "actor_name": action.actor_name}
    fields: Doc = {"status": status, "updated_at": action.at}
    note: str | None = None
    public = True
    extra: Doc = {}
    match action:
        case ComplaintAcknowledged():
            note = action.note
        case ComplaintCommented():
            note, public = action.text, action.public
        case ComplaintReassigned():
            fields.update(department=action.to_department, category=action.to_category)
            extra = {
                "reason": action.reason,
                "from_department": action.from_department,
                "to_department": action.to_department,
                "from_category": action.from_category,
                "to_category": action.to_category,
            }
        case ComplaintResolved():
            note = action.note
            fields["resolved_at"] = action.at
        case ComplaintRejected() | ComplaintReopened():
            note = action.reason
    entry = {
        **records.timeline_entry(kind, action.at, event_id="", note=note, public=public),
        **actor,
        **extra,
    }
    return fields, entry


async def apply_action(envelope: Envelope, *, store: Store) -> bool:
    """Apply one staff action once; False when it was applied before, or does not fit any more."""
    action = envelope.payload(MODELS[envelope.type])
    doc = await records.find(store, action.complaint_id)
    if doc is None:
        log.warning("action on an unknown complaint", extra={"complaint_id": action.complaint_id})
        return False
    if envelope.id in doc.get("applied_events", ()):
        return False
    try:
        status = next_status(envelope.type, doc["status"])
    except InvalidTransition as exc:
        # intake checked it; another action came first. The record keeps the first one.
        log.warning(str(exc), extra={"complaint_id": action.complaint_id, "event_id": envelope.id})
        ACTIONS.labels(envelope.type.rsplit(".", 1)[-1], "refused").inc()
        return False
    fields, entry = _change(action, status)
    entry["event_id"] = envelope.id
    applied = await records.apply_event(
        store, action.complaint_id, event_id=envelope.id, entry=entry, fields=fields
    )
    if applied:
        ACTIONS.labels(envelope.type.rsplit(".", 1)[-1], "applied").inc()
        log.info("action applied", extra={"complaint_id": action.complaint_id, "event_id": envelope.id})
    return applied
