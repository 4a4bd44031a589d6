"""Payloads of what the router decides after routing (``org.pasokh.complaint.*`` on pasokh.complaints.events):
duplicates and SLA deadlines. Versioned; extend, never rename."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from services.contracts.envelope import EventPayload


class ComplaintDuplicateLinked(EventPayload):
    """The complaint reports what an open complaint already reports; the citizen follows that one
    (``primary_id``) and the department is not notified a second time."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.duplicate-linked"

    complaint_id: str
    tracking_code: str
    primary_id: str
    primary_tracking_code: str
    category: str
    department: str
    distance_m: float | None = Field(default=None, ge=0)
    similarity: float = Field(ge=0.0, le=1.0)
    linked_at: datetime


class ComplaintDuplicateUnlinked(EventPayload):
    """Staff decided the complaint is not a duplicate after all; it is routed on its own again."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.duplicate-unlinked"

    complaint_id: str
    primary_id: str
    actor_id: str
    actor_name: str
    reason: str = Field(min_length=1, max_length=1000)
    at: datetime


class SlaEvent(EventPayload):
    """Common fields of the SLA events: which complaint, whose deadline, and when it is due."""

    complaint_id: str
    tracking_code: str
    category: str
    department: str
    priority: Literal["low", "normal", "high", "urgent"]
    due_at: datetime
    at: datetime


class ComplaintSlaWarning(SlaEvent):
    """80 % of the working time the complaint was given has passed and it is still open. Sent once."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.sla-warning"


class ComplaintEscalated(SlaEvent):
    """The complaint's due time passed while it was open: for the department head or supervisor,
    never the citizen. Sent once per complaint and due time, also across restarts."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.escalated"
