"""The native JSON API for complaints: submit and public status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from intake import handlers, idempotency
from intake.deps import IntakeDep
from intake.metrics import SUBMITTED
from intake.schemas import ComplaintAccepted, ComplaintIn, ComplaintStatus, ErrorBody

router = APIRouter(prefix="/v1", tags=["complaints"])

_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (404, 409, 413, 422, 503)}


@router.post(
    "/complaints",
    status_code=202,
    response_model=ComplaintAccepted,
    responses=_ERRORS,
    summary="Submit a complaint",
    description="Answers 202 once the complaint is durable in Kafka (acks=all); it is never lost after that.",
)
async def submit_complaint(
    body: ComplaintIn,
    request: Request,
    intake: IntakeDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
    ] = None,
) -> JSONResponse:
    """Validate, publish and answer with the tracking code."""
    if idempotency_key is not None:
        replay = await idempotency.claim(intake.store, "complaints", idempotency_key, await request.body())
        if replay is not None:
            return JSONResponse(replay[1], status_code=replay[0], headers={"Idempotent-Replayed": "true"})
    try:
        accepted = await handlers.submit_complaint(
            body,
            store=intake.store,
            publisher=intake.publisher,
            sealer=intake.sealer,
            taxonomy=intake.taxonomy,
        )
    except BaseException:
        if idempotency_key is not None:
            await idempotency.release(intake.store, "complaints", idempotency_key)
        raise
    SUBMITTED.labels(body.channel).inc()
    content = accepted.model_dump(mode="json")
    if idempotency_key is not None:
        await idempotency.complete(intake.store, "complaints", idempotency_key, 202, content)
    return JSONResponse(content, status_code=202)


@router.get(
    "/complaints/{tracking_code}",
    response_model=ComplaintStatus,
    responses=_ERRORS,
    summary="Status of a complaint by its tracking code",
)
async def complaint_status(tracking_code: str, intake: IntakeDep) -> ComplaintStatus:
    """Public fields and the public timeline; no personal data."""
    return await handlers.complaint_status(tracking_code, store=intake.store, taxonomy=intake.taxonomy)
