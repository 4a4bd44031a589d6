"""Staff actions on a complaint, free of HTTP: check who may act and what may follow, then publish."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from intake.auth import Principal
from intake.errors import Forbidden, UnknownCategory, UnknownDepartment
from intake.handlers import read_complaint
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.actions import ComplaintReassigned, StaffAction
from services.contracts.envelope import new_event
from services.contracts.routing import ComplaintDuplicateUnlinked
from services.lifecycle import next_status
from services.store import Doc, Store
from services.taxonomy import Taxonomy

SOURCE = "/pasokh/intake/staff"


async def load_for_action(store: Store, complaint_id: str, principal: Principal, taxonomy: Taxonomy) -> Doc:
    """The complaint, if it exists and ``principal`` may act on its department."""
    doc = await read_complaint(store, complaint_id)
    if not principal.may_act_on(doc.get("department"), triage_department=taxonomy.triage_department):
        raise Forbidden()
    return doc


def reassignment_target(
    doc: Doc, *, department: str | None, category: str | None, taxonomy: Taxonomy
) -> tuple[str, str]:
    """(department, category) after a reassignment; a new category alone brings its default department."""
    if category is not None and category not in taxonomy.categories:
        raise UnknownCategory(category)
    if department is not None and department not in taxonomy.departments:
        raise UnknownDepartment(department)
    to_category = category or doc.get("category") or taxonomy.fallback_category
    to_department = department or (
        taxonomy.category(category).department if category else doc.get("department")
    )
    return to_department or taxonomy.triage_department, to_category


def _role(model: type[Action], principal: Principal) -> dict[str, Any]:
    """``actor_role`` of a staff action (the router clears the supervisor flag by it)."""
    if not issubclass(model, StaffAction):
        return {}
    role = principal.role or ("admin" if "admin" in principal.scopes else None)
    return {"actor_role": role} if role else {}


# What staff may publish: the actions, and "not a duplicate after all".
Action = StaffAction | ComplaintDuplicateUnlinked


async def act(
    model: type[Action],
    complaint_id: str,
    fields: dict[str, Any],
    *,
    principal: Principal,
    store: Store,
    publisher: Publisher,
    taxonomy: Taxonomy,
) -> dict[str, Any]:
    """Publish ``model`` for the complaint once the principal and its current status allow it."""
    doc = await load_for_action(store, complaint_id, principal, taxonomy)
    status = next_status(model.TYPE, doc["status"])
    if model is ComplaintReassigned:
        to_department, to_category = reassignment_target(
            doc,
            department=fields.pop("department", None),
            category=fields.pop("category", None),
            taxonomy=taxonomy,
        )
        fields.update(
            from_department=doc.get("department"),
            to_department=to_department,
            from_category=doc.get("category"),
            to_category=to_category,
        )
    elif model is ComplaintDuplicateUnlinked:
        fields["primary_id"] = doc["duplicate"]["primary_id"]
    payload = model(
        complaint_id=complaint_id,
        actor_id=principal.key_id,
        actor_name=principal.name,
        at=records.store_precision(datetime.now(UTC)),
        **fields,
        **_role(model, principal),
    )
    event = new_event(payload, subject=complaint_id, source=SOURCE)
    await publisher.publish(topics.EVENTS, event)
    return {"complaint_id": complaint_id, "event_id": event.get_id(), "type": model.TYPE, "status": status}
