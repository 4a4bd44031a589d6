"""From a classification to a decision: department, priority, due time, routed or triage."""

from __future__ import annotations

from datetime import datetime, timedelta

from router.classifier import Classification
from services.contracts.complaints import ComplaintRouted, ComplaintSubmitted, ComplaintTriageNeeded, Decision
from services.taxonomy import Taxonomy


def decide(
    submitted: ComplaintSubmitted,
    classification: Classification,
    *,
    taxonomy: Taxonomy,
    threshold: float,
    now: datetime,
) -> Decision:
    """Route to the category's department when confident enough, otherwise to the triage desk."""
    category = taxonomy.category(classification.category)
    confident = classification.confidence >= threshold and category.code != taxonomy.fallback_category
    model: type[Decision] = ComplaintRouted if confident else ComplaintTriageNeeded
    return model(
        complaint_id=submitted.complaint_id,
        tracking_code=submitted.tracking_code,
        category=category.code,
        department=category.department if confident else taxonomy.triage_department,
        priority=category.priority,
        confidence=classification.confidence,
        classifier=classification.classifier,
        language=submitted.language or "fa",
        due_at=now + timedelta(hours=category.sla_hours),
    )
