"""Payloads of complaint events (``org.pasokh.complaint.*``). Versioned; extend, never rename."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.contracts.envelope import EventPayload

Channel = Literal["web", "app", "sms", "phone", "partner"]
Language = Literal["fa", "en"]
Priority = Literal["low", "normal", "high", "urgent"]


class Location(BaseModel):
    """A WGS84 point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ComplaintSubmitted(EventPayload):
    """A citizen or partner submitted a complaint; intake accepted it."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.submitted"

    complaint_id: str
    tracking_code: str
    text: str
    channel: Channel
    language: Language | None = None
    category_hint: str | None = None
    location: Location | None = None
    address: str | None = None
    district: str | None = None
    media_urls: list[str] = Field(default_factory=list)
    # The citizen's phone, sealed with the deployment's key (services.privacy), never in clear.
    phone_sealed: str | None = None
    phone_hash: str | None = None
    submitted_at: datetime


class Decision(EventPayload):
    """What the router decided for a complaint: the same fields for routed and triage-needed."""

    complaint_id: str
    tracking_code: str
    category: str
    department: str
    priority: Priority
    confidence: float = Field(ge=0.0, le=1.0)
    classifier: str
    language: Language
    due_at: datetime


class ComplaintRouted(Decision):
    """The router assigned the complaint to a department."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.routed"


class ComplaintTriageNeeded(Decision):
    """The router was not sure; a person at the triage desk must pick the department."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.triage-needed"
