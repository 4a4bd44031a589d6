"""``POST /v1/events``: partner systems post CloudEvents 1.0 (structured mode), one or a batch."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo.errors import PyMongoError

from intake import auth, partner_events
from intake.bootstrap import Intake
from intake.deps import IntakeDep
from intake.errors import (
    BatchTooLarge,
    Forbidden,
    InvalidBatch,
    InvalidCloudEvent,
    InvalidJson,
    Unauthorized,
    UnsupportedMediaType,
    error_response,
)
from intake.schemas import ErrorBody, ErrorDetail
from services.errors import DependencyUnavailable

router = APIRouter(prefix="/v1", tags=["partner events"])

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"

DESCRIPTION = f"""
Partner systems (the 137 call centre, district offices, departments' work-order systems) post
[CloudEvents 1.0](https://github.com/cloudevents/spec) in structured mode, with an API key
(`Authorization: Bearer <key>` or `X-API-Key`):

* one event as `Content-Type: {SINGLE}`: `202` with its result, or a `4xx` error body;
* a batch as `Content-Type: {BATCH}`: a JSON array of at most {partner_events.MAX_BATCH} events.
  **A batch is not all-or-nothing**: each event is validated, authorized, deduplicated and published
  on its own, in the order given, and gets its own entry in the `202` result list
  (`accepted`, `duplicate` or `rejected` with an `error` in the usual error format). Events accepted
  before a rejected one stay accepted. Only a problem with the whole request (key, Content-Type,
  JSON, not an array, too many events) answers with an error instead of the list.

Accepted types and the scope each needs:

* `org.pasokh.complaint.submitted` (`complaints:write`): `data` is the complaint as the partner knows
  it (`GET /v1/schemas/partner.org.pasokh.complaint.submitted.v1.json`); Pasokh assigns the complaint
  id and tracking code (returned), the channel is `partner`.
* `org.pasokh.complaint.status-updated` (`events:write`): `data` follows
  `GET /v1/schemas/org.pasokh.complaint.status-updated.v1.json`; the complaint is named by
  `tracking_code` or `complaint_id` (`complaint_not_found` otherwise).

`source` + `id` identify an event: a repeat is answered `duplicate` with the first result and published
only once, so retries are safe (an `Idempotency-Key` header is not needed). Attributes checked:
`specversion` `1.0`, `id`, `source`, `type`, `datacontenttype` a JSON type if given, `data` a JSON
object (no `data_base64`).
"""


class EventResult(BaseModel):
    """What became of one posted event."""

    id: str | None
    source: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    complaint_id: str | None = None
    tracking_code: str | None = None
    error: ErrorDetail | None = None


_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type", "data"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "minLength": 1, "format": "uri-reference"},
        "type": {"enum": sorted(partner_events.SCOPES)},
        "subject": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string", "examples": ["application/json"]},
        "dataschema": {"type": "string", "format": "uri"},
        "data": {"type": "object", "description": "Validated against the JSON Schema of the event's type."},
    },
}
_EXAMPLE = {
    "specversion": "1.0",
    "id": "ticket-20240320-0042",
    "source": "/partners/137-call-centre",
    "type": "org.pasokh.complaint.submitted",
    "time": "2024-03-20T08:30:00Z",
    "datacontenttype": "application/json",
    "data": {
        "text": "چراغ‌های کوچه ما سه شب است خاموش است",
        "phone": "09121234567",
        "location": {"lat": 35.7219, "lon": 51.3347},
    },
}
_STATUS_EXAMPLE = {
    "specversion": "1.0",
    "id": "wo-88121-3",
    "source": "/partners/lighting-work-orders",
    "type": "org.pasokh.complaint.status-updated",
    "data": {
        "tracking_code": "4820193756",
        "status": "resolved",
        "note": "لامپ‌های کوچه تعویض شد.",
        "external_id": "WO-88121",
        "updated_at": "2024-03-21T14:05:00+03:30",
    },
}
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            SINGLE: {"schema": _EVENT, "example": _EXAMPLE},
            BATCH: {
                "schema": {"type": "array", "maxItems": partner_events.MAX_BATCH, "items": _EVENT},
                "example": [_EXAMPLE, _STATUS_EXAMPLE],
            },
        },
    }
}


async def _principal(request: Request, intake: Intake) -> auth.Principal:
    raw = auth.presented_key(request)
    try:
        principal = await auth.authenticate(intake.store, raw) if raw else None
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not check the API key: {exc}") from exc
    if principal is None:
        raise Unauthorized()
    if not any(principal.has(scope) for scope in set(partner_events.SCOPES.values())):
        raise Forbidden()
    intake.limits.per_key.take(principal.key_id)
    return principal


@router.post(
    "/events",
    status_code=202,
    summary="Post CloudEvents from a partner system (one, or a batch that is not all-or-nothing)",
    description=DESCRIPTION,
    response_model=None,
    responses={
        202: {"model": EventResult | list[EventResult], "description": "One result, or one per event"},
        **{code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)},
    },
    openapi_extra=OPENAPI_BODY,
)
async def post_events(request: Request, intake: IntakeDep) -> JSONResponse:
    """Accept one event or a batch; answer per event."""
    principal = await _principal(request, intake)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in (SINGLE, BATCH):
        raise UnsupportedMediaType()
    try:
        body = partner_events.parse_body(await request.body())
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return error_response(InvalidJson(), [{"field": "(body)", "problem": str(exc)[:200]}])

    async def accept(event: Any) -> partner_events.Outcome:
        return await partner_events.accept_event(
            event,
            principal=principal,
            store=intake.store,
            publisher=intake.publisher,
            sealer=intake.sealer,
            taxonomy=intake.taxonomy,
            city=intake.settings.city,
        )

    if media_type == SINGLE:
        if isinstance(body, list):
            problem = f"one event must be a JSON object; send a batch as {BATCH}"
            return error_response(InvalidCloudEvent(), [{"field": "(body)", "problem": problem}])
        outcome = await accept(body)
        if outcome.error is not None:
            return error_response(outcome.error, outcome.details)
        return JSONResponse(outcome.to_json(), status_code=202)
    if not isinstance(body, list):
        raise InvalidBatch()
    if len(body) > partner_events.MAX_BATCH:
        return error_response(BatchTooLarge(), {"max_events": partner_events.MAX_BATCH, "events": len(body)})
    # One after the other: a partner's updates to one complaint must reach Kafka in the order sent.
    results = [(await accept(event)).to_json() for event in body]
    return JSONResponse(results, status_code=202)
