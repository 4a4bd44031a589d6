"""The Open311 documents as OpenAPI describes them: JSON shapes, the XML alternative, errors, inputs.

Documentation only: handlers build plain structures and :mod:`intake.open311.render` writes them.
The JSON shapes are the "Spark convention" mapping of the spec's XML (a list is a JSON array).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from intake.open311 import forms
from intake.schemas import MAX_TEXT
from services.taxonomy import Datatype

# Every document is also served as XML, in .xml (root and item elements as the spec names them).
XML: dict[str, Any] = {"text/xml": {"schema": {"type": "string", "description": "The same document in XML."}}}
_NO_VALUE = "Empty in XML (`<x/>`), null in JSON."


class Endpoint(BaseModel):
    """One GeoReport v2 endpoint of the discovery document."""

    specification: str
    url: str
    changeset: str
    type: Literal["production", "test"]
    formats: list[str]


class Discovery(BaseModel):
    """Service Discovery."""

    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    """One service (a category of the city)."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime"]
    keywords: str
    group: str


class AttributeValue(BaseModel):
    """One choice of a list attribute."""

    key: str
    name: str


class ServiceAttribute(BaseModel):
    """One extra question of a service."""

    variable: bool
    code: str
    datatype: Datatype
    required: bool
    datatype_description: str | None = Field(description=_NO_VALUE)
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(BaseModel):
    """A service's attributes."""

    service_code: str
    attributes: list[ServiceAttribute]


class ServiceRequest(BaseModel):
    """One request of GET requests: public fields only."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: None
    lat: float | None
    long: float | None
    media_url: str | None


class CreatedRequest(BaseModel):
    """The answer to POST requests: the id is the tracking code (every service is realtime)."""

    service_request_id: str
    service_notice: str | None
    account_id: str | None


class Token(BaseModel):
    """The request a token stands for."""

    service_request_id: str
    token: str


class RequestUpdate(BaseModel):
    """One public step of a request (servicerequestupdates)."""

    update_id: str
    service_request_id: str
    status: Literal["open", "closed"]
    updated_datetime: str
    description: str | None
    media_url: str


class CreatedUpdate(BaseModel):
    """The answer to POST servicerequestupdates."""

    update_id: str
    account_id: str | None


class Error(BaseModel):
    """One problem; ``code`` is the HTTP status, or 503 when a dependency is down (answered as 400)."""

    code: int
    description: str


# status → (body, description); the limits enforced before any handler answer in intake's own error body.
_ERRORS: dict[int, tuple[Any, str]] = {
    400: (
        list[Error],
        "A parameter is missing or invalid, the service is down (error code 503, Retry-After), the body "
        "is larger than intake accepts (error code 413) or the request carries a NUL character.",
    ),
    403: (list[Error], "The api_key is missing, wrong, or does not allow this."),
    404: (list[Error], "No such resource, or a format other than json or xml."),
    429: (list[Error], "Too many requests from one key or one client; retry after Retry-After seconds."),
}


def responses(ok: Any, *errors: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a resource answering ``ok`` (a model) in JSON or XML, and its errors.

    Every resource may answer 400: the refusals made before any handler (intake.limits.refusal: a NUL
    character, a body over the limit) come in the spec's error format on Open311 paths too.
    """
    documented: dict[int | str, dict[str, Any]] = {200: {"model": ok, "content": XML}}
    for status in sorted({400, *errors}):
        model, description = _ERRORS[status]
        documented[status] = {"model": model, "description": description, "content": XML}
    return documented


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


LANGUAGE = [
    _query("locale", "Language of names and notes: `fa` (default) or `en`; else Accept-Language."),
    _query("jurisdiction_id", "Accepted and ignored: one jurisdiction per deployment."),
]
_W3 = "w3 date/time with a time zone, e.g. 2010-01-01T00:00:00Z."
REQUESTS_QUERY = [
    _query("service_request_id", "Comma-delimited tracking codes; overrides the other filters."),
    _query("service_code", "Comma-delimited service codes."),
    _query("start_date", _W3, format="date-time", examples=["2024-03-01T00:00:00Z"]),
    _query("end_date", _W3, format="date-time", examples=["2024-03-31T00:00:00Z"]),
    _query("status", "`open`, `closed` or both, comma-delimited.", examples=["open"]),
    *LANGUAGE,
]
UPDATES_QUERY = [
    _query("start_date", _W3, format="date-time", examples=["2024-03-01T00:00:00Z"]),
    _query("end_date", _W3, format="date-time", examples=["2024-03-31T00:00:00Z"]),
    *LANGUAGE,
]


def _form(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required, **extra}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": schema}},
        }
    }


def _text(limit: int | None = None, *, given: bool = False, **schema: Any) -> dict[str, Any]:
    """A form field; ``given``: required, and blank counts as missing (as the spec's "Optional" reads)."""
    return {
        "type": "string",
        **({"maxLength": limit} if limit else {}),
        **({"minLength": 1, "pattern": r"\S"} if given else {}),
        **schema,
    }


_KEY = _text(description="An API key (or send it as Authorization: Bearer).")
_LENGTHS = forms.LENGTHS
POST_REQUEST = _form(
    {
        "api_key": _KEY,
        "service_code": _text(given=True, examples=["lighting"]),
        "lat": _text(40, description="WGS84 latitude", examples=["35.7219"]),
        "long": _text(40, description="WGS84 longitude", examples=["51.3347"]),
        "address_string": _text(forms.MAX_STRING),
        "address_id": _text(_LENGTHS["address_id"]),
        "email": _text(_LENGTHS["email"]),
        "device_id": _text(_LENGTHS["device_id"]),
        "account_id": _text(_LENGTHS["account_id"]),
        "first_name": _text(_LENGTHS["first_name"]),
        "last_name": _text(_LENGTHS["last_name"]),
        "phone": _text(40, examples=["09121234567"]),
        "description": _text(4 * MAX_TEXT),
        "media_url": _text(_LENGTHS["media_url"]),
    },
    ["service_code"],
    # The service definition's questions: attribute[code], or attribute[code][] for a multivaluelist.
    patternProperties={r"^attribute\[[^\[\]]+\](\[\])?$": _text()},
)
POST_UPDATE = _form(
    {
        "api_key": _KEY,
        "service_request_id": _text(given=True),
        "update_id": _text(255, given=True),
        "status": {"type": "string", "enum": sorted(forms.UPDATE_STATUSES)},
        "updated_datetime": _text(format="date-time", examples=["2024-03-21T14:05:00+03:30"]),
        "description": _text(forms.MAX_UPDATE, given=True),
        "email": _text(_LENGTHS["email"]),
        "first_name": _text(_LENGTHS["first_name"]),
        "last_name": _text(_LENGTHS["last_name"]),
        "title": _text(_LENGTHS["title"]),
        "media_url": _text(_LENGTHS["media_url"]),
        "service_code": _text(),
        "phone": _text(40),
        "account_id": _text(_LENGTHS["account_id"]),
    },
    ["service_request_id", "update_id", "status", "updated_datetime", "description"],
)
