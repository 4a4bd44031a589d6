"""The native JSON API for complaints: submit and public status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from intake import handlers, idempotency
from intake.auth import submitter
from intake.bootstrap import Intake
from intake.deps import IntakeDep
from intake.errors import ChannelNeedsKey
from intake.metrics import SUBMITTED
from intake.schemas import UNREADABLE_BODY, ComplaintAccepted, ComplaintIn, ComplaintStatus, ErrorBody

PUBLIC_CHANNELS = frozenset({"web", "app"})
router = APIRouter(prefix="/v1", tags=["complaints"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (404, 409, 413, 422, 429, 503)
}


@router.post(
    "/complaints",
    status_code=202,
    response_model=ComplaintAccepted,
    responses={**UNREADABLE_BODY, **_ERRORS},
    summary="Submit a complaint",
    description="Answers 202 once the complaint is durable in Kafka (acks=all); it is never lost after that.",
    openapi_extra={"parameters": [idempotency.OPENAPI_PARAMETER]},
)
async def submit_complaint(body: ComplaintIn, request: Request) -> JSONResponse:
    """Validate, publish and answer with the tracking code."""
    # The busiest route reads its context directly: each FastAPI dependency costs ~5 % of its CPU.
    intake: Intake = request.app.state.intake
    partner = await submitter(request)
    idempotency_key = idempotency.key_of(request)
    if partner is None and body.channel not in PUBLIC_CHANNELS:
        # sms/phone/partner submissions come from the SMS webhook, an operator's or a partner's
        # software: they carry a key (and sms skips the place rule, which the public must not).
        raise ChannelNeedsKey()

    async def work() -> tuple[int, dict[str, Any]]:
        accepted = await handlers.submit_complaint(
            body,
            store=intake.store,
            publisher=intake.publisher,
            sealer=intake.sealer,
            taxonomy=intake.taxonomy,
            city=intake.settings.city,
            codes=intake.codes,
            received=intake.received,
        )
        SUBMITTED.labels(body.channel).inc()
        return 202, accepted.model_dump(mode="json")

    return await idempotency.respond_once(
        intake.store, "complaints", idempotency_key, await request.body(), work
    )


@router.get(
    "/complaints/{tracking_code}",
    response_model=ComplaintStatus,
    responses=_ERRORS,
    summary="Status of a complaint by its tracking code",
)
async def complaint_status(tracking_code: str, intake: IntakeDep) -> ComplaintStatus:
    """Public fields and the public timeline; no personal data."""
    return await handlers.complaint_status(tracking_code, store=intake.store, taxonomy=intake.taxonomy)
