"""The published event contract over HTTP: JSON Schemas of every event type and the AsyncAPI document."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from intake import partner_events
from intake.schemas import ErrorBody
from services.contracts import schemas
from services.errors import NotFound

router = APIRouter(tags=["contracts"])

SCHEMAS_PATH = "/v1/schemas/"
SCHEMA_MEDIA_TYPE = "application/schema+json"
# The contract changes only with a deployment; let clients and proxies keep it for a while.
CACHE = {"Cache-Control": "public, max-age=300"}


@cache
def _asyncapi() -> dict[str, Any]:
    return schemas.published_asyncapi(SCHEMAS_PATH)


@router.get(
    "/asyncapi.json",
    summary="AsyncAPI 3.0 document of Pasokh's Kafka topics and events",
    description="Payload schemas are referenced as /v1/schemas/<type>.v<version>.json on this server.",
)
async def asyncapi() -> JSONResponse:
    """The shipped AsyncAPI document, its schema references pointing at this server."""
    return JSONResponse(_asyncapi(), headers=CACHE)


@router.get("/v1/schemas", summary="Names of the published event schemas")
async def schema_index() -> dict[str, list[str]]:
    """``published``: data of events on Kafka; ``inbound``: data partners post to ``POST /v1/events``."""
    return {"published": list(schemas.schema_names()), "inbound": sorted(partner_events.inbound_schemas())}


@router.get(
    "/v1/schemas/{name}",
    summary="JSON Schema (draft 2020-12) of one event type and version",
    description="`name` is `<type>.v<version>.json` (e.g. `org.pasokh.complaint.routed.v1.json`; the "
    "`.json` may be left out); its `$id` is the `dataschema` of such events. "
    "`partner.org.pasokh.complaint.submitted.v1.json` is the data partners send to `POST /v1/events`.",
    # Documented by hand: the answer is application/schema+json, the 404 application/json.
    response_class=Response,
    responses={
        200: {"description": "The schema", "content": {SCHEMA_MEDIA_TYPE: {"schema": {"type": "object"}}}},
        404: {"model": ErrorBody},
    },
)
async def schema(name: str) -> JSONResponse:
    """One schema document, 404 if there is no such name."""
    if not name.endswith(".json"):
        name += ".json"
    found = schemas.published(name) or partner_events.inbound_schemas().get(name)
    if found is None:
        raise NotFound()
    return JSONResponse(found, media_type=SCHEMA_MEDIA_TYPE, headers=CACHE)
