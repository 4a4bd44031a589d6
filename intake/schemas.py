"""HTTP request and response bodies of the native API (never reused as event payloads)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from intake.phone import normalize_phone
from services.text import normalize

MAX_TEXT = 4000


class LocationIn(BaseModel):
    """A point on the map (WGS84)."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class ComplaintIn(BaseModel):
    """What a citizen's form, app or a partner posts to ``POST /v1/complaints``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "چراغ‌های کوچه ما سه شب است خاموش است",
                    "phone": "09121234567",
                    "district": "3",
                    "channel": "web",
                }
            ]
        },
    )

    text: str = Field(description="The complaint in the citizen's words (1–4000 characters).")
    phone: str | None = Field(
        default=None, description="Iranian mobile number for SMS updates, any common form."
    )
    location: LocationIn | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    district: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = Field(
        default=None, description="A hint: an Open311 service_code of this city."
    )
    channel: Literal["web", "app", "sms", "phone", "partner"] = "web"
    language: Literal["fa", "en"] | None = None
    media_urls: list[AnyHttpUrl] = Field(default_factory=list, max_length=5)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        text = normalize(value)
        if not text:
            raise ValueError("text is empty")
        if len(text) > MAX_TEXT:
            raise ValueError(f"text is longer than {MAX_TEXT} characters")
        return text

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else normalize_phone(value)


class ComplaintAccepted(BaseModel):
    """The answer to a submission: the complaint is durable and has a tracking code."""

    id: str
    tracking_code: str
    status: Literal["received"] = "received"


class Name(BaseModel):
    """A name in both languages."""

    fa: str
    en: str


class TimelineItem(BaseModel):
    """One public step in a complaint's history."""

    type: str
    at: datetime
    note: str | None = None


class ComplaintStatus(BaseModel):
    """What anyone holding the tracking code may see: no personal data."""

    tracking_code: str
    status: str
    category: str | None = None
    category_name: Name | None = None
    department: str | None = None
    department_name: Name | None = None
    priority: str | None = None
    created_at: datetime
    due_at: datetime | None = None
    timeline: list[TimelineItem]


class ErrorDetail(BaseModel):
    """The body of every error response."""

    code: str
    message: Name
    details: list[dict[str, object]] | dict[str, object] | None = None


class ErrorBody(BaseModel):
    """``{"error": {...}}``."""

    error: ErrorDetail


# FastAPI answers 400 (not 422) when a JSON body cannot even be decoded (it is not UTF-8).
UNREADABLE_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be read (it is not UTF-8)."}
}
