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
from services.contracts.complaints import ComplaintStatusUpdated
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


SUPERVISORS = ("supervisor", "admin")


def supervisor_fields(action: StaffAction, doc: Doc) -> Doc:
    """The supervisor flag's change: a citizen's reopening sets it (``needs_supervisor`` with the
    reason and time); any action by a supervisor or an admin clears it (keeping who and when)."""
    if isinstance(action, ComplaintReopened) and action.by == "citizen":
        flag = {"reason": action.reason, "at": action.at, "by": "citizen"}
        return {"needs_supervisor": True, "supervisor_flag": flag}
    if action.actor_role in SUPERVISORS and doc.get("needs_supervisor"):
        cleared = {**(doc.get("supervisor_flag") or {}), "cleared_at": action.at}
        cleared |= {"cleared_by": action.actor_name, "cleared_by_id": action.actor_id}
        return {"needs_supervisor": False, "supervisor_flag": cleared}
    return {}


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
    fields.update(supervisor_fields(action, doc))
    entry["event_id"] = envelope.id
    applied = await records.apply_event(
        store, action.complaint_id, event_id=envelope.id, entry=entry, fields=fields
    )
    if applied:
        ACTIONS.labels(envelope.type.rsplit(".", 1)[-1], "applied").inc()
        log.info("action applied", extra={"complaint_id": action.complaint_id, "event_id": envelope.id})
    return applied


# A work-order system's status → the staff action whose lifecycle rule it follows.
_STATUS_RULES = {
    "acknowledged": ComplaintAcknowledged.TYPE,
    "in_progress": ComplaintAcknowledged.TYPE,
    "resolved": ComplaintResolved.TYPE,
    "rejected": ComplaintRejected.TYPE,
}


async def apply_status_update(envelope: Envelope, *, store: Store) -> bool:
    """Apply a partner's ``status-updated`` once, under the same lifecycle as staff actions."""
    update = envelope.payload(ComplaintStatusUpdated)
    doc = await (
        records.find(store, update.complaint_id)
        if update.complaint_id
        else records.find_by_tracking_code(store, update.tracking_code or "")
    )
    if doc is None:
        log.warning("status update for an unknown complaint", extra={"event_id": envelope.id})
        return False
    if envelope.id in doc.get("applied_events", ()):
        return False
    if update.status in ("acknowledged", "in_progress") and doc["status"] == "acknowledged":
        status = "acknowledged"  # progress on work already taken on: history only
    else:
        try:
            status = next_status(_STATUS_RULES[update.status], doc["status"])
        except InvalidTransition as exc:
            log.warning(str(exc), extra={"complaint_id": doc["_id"], "event_id": envelope.id})
            ACTIONS.labels("status-updated", "refused").inc()
            return False
    entry = records.timeline_entry(update.status, update.updated_at, event_id=envelope.id, note=update.note)
    entry.update(source=envelope.source, external_id=update.external_id, internal_note=update.internal_note)
    fields: Doc = {"status": status, "updated_at": update.updated_at}
    if status == "resolved":
        fields["resolved_at"] = update.updated_at
    applied = await records.apply_event(store, doc["_id"], event_id=envelope.id, entry=entry, fields=fields)
    if applied:
        ACTIONS.labels("status-updated", "applied").inc()
    return applied
