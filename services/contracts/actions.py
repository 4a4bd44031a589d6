"""Payloads of what staff do to a complaint (``org.pasokh.complaint.*`` on pasokh.complaints.events).

``acknowledged``, ``commented``, ``reassigned``, ``resolved`` and ``reopened`` are the types of
DESIGN.md; ``rejected`` extends that list for the status of the same name.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from services.contracts.envelope import EventPayload


class StaffAction(EventPayload):
    """Common fields: which complaint, who acted (key id, name and role, never a phone), when.

    ``actor_role`` (absent in events written before it existed) lets the router clear a complaint's
    supervisor flag when a supervisor or an admin acts on it."""

    complaint_id: str
    actor_id: str
    actor_name: str
    at: datetime
    actor_role: Literal["operator", "department", "supervisor", "admin"] | None = None


class ComplaintAcknowledged(StaffAction):
    """The department has seen the complaint and taken it on."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.acknowledged"
    note: str | None = Field(default=None, max_length=1000)


class ComplaintCommented(StaffAction):
    """A note on the complaint: public ones are shown to the citizen, internal ones only to staff."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.commented"
    text: str = Field(min_length=1, max_length=2000)
    public: bool = False


class ComplaintReassigned(StaffAction):
    """Another department and/or category; the reason is kept (and later feeds the classifier)."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.reassigned"
    from_department: str | None
    to_department: str
    from_category: str | None
    to_category: str
    reason: str = Field(min_length=1, max_length=1000)


class ComplaintResolved(StaffAction):
    """Done; ``note`` tells the citizen what was done."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.resolved"
    note: str = Field(min_length=1, max_length=1000)


class ComplaintRejected(StaffAction):
    """Not something the city will act on; ``reason`` is told to the citizen."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.rejected"
    reason: str = Field(min_length=1, max_length=1000)


class ComplaintReopened(StaffAction):
    """Back in the department's hands after it was resolved or rejected."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.reopened"
    reason: str = Field(min_length=1, max_length=1000)
    by: Literal["staff", "citizen"] = "staff"
