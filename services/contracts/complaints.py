"""Payloads of complaint events (``org.pasokh.complaint.*``). Versioned; extend, never rename."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

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
    attributes: dict[str, str | list[str]] = Field(default_factory=dict)  # Open311 attribute[code]
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


class ComplaintRated(EventPayload):
    """The citizen rated how a resolved complaint was handled (the survey's answer): 1 (very bad) to 5."""

    TYPE: ClassVar[str] = "org.pasokh.complaint.rated"

    complaint_id: str
    rating: int = Field(ge=1, le=5)
    channel: Channel
    answered_at: datetime
    # The keyed hash of the phone that answered (services.privacy), never the phone in clear.
    phone_hash: str | None = None


StatusUpdate = Literal["acknowledged", "in_progress", "resolved", "rejected"]
# The work-order id of a department's own system: printable, no spaces, short enough to index.
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$"


class ComplaintStatusUpdated(EventPayload):
    """A department's work-order system (or staff) moved a complaint to a new status.

    The complaint is named by ``complaint_id``, ``tracking_code`` or both; Pasokh publishes both.
    ``note`` is shown to the citizen (SMS, public timeline); ``internal_note`` never is.
    """

    TYPE: ClassVar[str] = "org.pasokh.complaint.status-updated"

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "anyOf": [
                {"required": ["complaint_id"], "properties": {"complaint_id": {"type": "string"}}},
                {"required": ["tracking_code"], "properties": {"tracking_code": {"type": "string"}}},
            ]
        },
    )

    complaint_id: str | None = Field(default=None, min_length=1, max_length=64)
    tracking_code: str | None = Field(
        default=None, pattern=r"^[0-9]{10}$", description="The ten-digit code the citizen was given."
    )
    status: StatusUpdate
    note: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Public text for the citizen (SMS, public timeline).",
    )
    internal_note: str | None = Field(
        default=None, min_length=1, max_length=4000, description="For staff only; never shown to the citizen."
    )
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=EXTERNAL_ID_PATTERN,
        description="The id of the work order in the department's own system.",
    )
    updated_at: AwareDatetime = Field(description="When the status changed in the department's system.")

    @model_validator(mode="after")
    def _names_a_complaint(self) -> ComplaintStatusUpdated:
        if self.complaint_id is None and self.tracking_code is None:
            raise ValueError("complaint_id or tracking_code is required")
        return self
