"""From a classification to a decision: department, priority, due time, routed or triage.

- An emergency (the classifier's ``emergency`` flag) is routed at once, priority ``urgent``, to the
  department the rules give the ``emergency`` category in that district, whatever the category.
- A priority a city rule forced (the classifier's ``priority``) overrides the category's default.
- Otherwise, confident enough → the department of the first matching routing rule, else the
  category's default; not confident → the triage desk.
- The due time is the SLA in working time (router.sla).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from router import duplicates
from router.classifier import Classification
from router.routing import RoutingTable
from router.sla import SlaPolicy, slot
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted, ComplaintTriageNeeded, Decision
from services.taxonomy import Taxonomy

EMERGENCY_CATEGORY = "emergency"
_PRIORITIES = ("low", "normal", "high", "urgent")


def _forced_priority(classification: Classification) -> Any:
    # Read with getattr: the classifier's forced priority and emergency flag are newer fields.
    priority = getattr(classification, "priority", None)
    return priority if priority in _PRIORITIES else None


def decide(
    submitted: ComplaintSubmitted,
    classification: Classification,
    *,
    taxonomy: Taxonomy,
    threshold: float,
    now: datetime,
    routing: RoutingTable | None = None,
    district: str | None = None,
    sla: SlaPolicy | None = None,
) -> Decision:
    """Route to the department the rules give when confident enough, otherwise to the triage desk."""
    category = taxonomy.category(classification.category)
    emergency = bool(getattr(classification, "emergency", False))
    confident = emergency or (
        classification.confidence >= threshold and category.code != taxonomy.fallback_category
    )
    priority = "urgent" if emergency else _forced_priority(classification) or category.priority
    # An emergency goes where the city sends emergencies, whatever its category.
    route_as = category.code
    if emergency and EMERGENCY_CATEGORY in taxonomy.categories:
        route_as = EMERGENCY_CATEGORY
    if not confident:
        department = taxonomy.triage_department
    elif routing is not None:
        department = routing.department(route_as, district=district, at=submitted.submitted_at)
    else:
        department = taxonomy.category(route_as).department
    sla_hours = taxonomy.category(route_as).sla_hours
    if sla is not None:
        _, due_at = sla.deadlines(sla_hours=sla_hours, priority=priority, start=now)
    else:
        due_at = now + timedelta(hours=sla_hours)
    model: type[Decision] = ComplaintRouted if confident else ComplaintTriageNeeded
    return model(
        complaint_id=submitted.complaint_id,
        tracking_code=submitted.tracking_code,
        category=category.code,
        department=department,
        priority=priority,
        confidence=classification.confidence,
        classifier=classification.classifier,
        language=submitted.language or "fa",
        due_at=due_at,
    )


def district_of(submitted: ComplaintSubmitted, routing: RoutingTable | None) -> str | None:
    """The district of the complaint's map pin, else of the district it names (None without routing)."""
    if routing is None:
        return None
    place = submitted.location
    return routing.district(
        lat=place.lat if place else None, lon=place.lon if place else None, name=submitted.district
    )


def plan(
    submitted: ComplaintSubmitted,
    classification: Classification,
    *,
    district: str | None,
    taxonomy: Taxonomy,
    threshold: float,
    now: datetime,
    routing: RoutingTable | None,
    sla: SlaPolicy | None,
) -> tuple[Decision, str, dict[str, Any]]:
    """The decision, the status it gives (routed or triage), and the fields the record keeps beside
    it: the district, the SLA's start, warning and due times, and the cell later reports of the same
    thing look in (routed complaints with a map pin)."""
    decision = decide(
        submitted,
        classification,
        taxonomy=taxonomy,
        threshold=threshold,
        now=now,
        routing=routing,
        district=district,
        sla=sla,
    )
    status = "routed" if isinstance(decision, ComplaintRouted) else "triage"
    extra: dict[str, Any] = {"district": district} if district else {}
    if sla is not None:
        warn_at = sla.warn_at(start=now, due_at=decision.due_at, priority=decision.priority)
        extra["sla"] = {"start": now, "warn_at": warn_at, "due_at": decision.due_at}
        extra["sla_slot"] = slot(warn_at)  # where the SLA scan looks for it (router/sla.py)
    place = submitted.location
    if place is not None and status == "routed":
        extra["dup_cell"] = duplicates.cell(decision.category, place.lat, place.lon)
    return decision, status, extra
