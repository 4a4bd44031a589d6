"""Staff actions on a complaint (a staff key scoped to the complaint's department) and partner reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from intake import idempotency, staff
from intake.auth import PartnerReadDep, StaffDep
from intake.deps import IntakeDep
from intake.handlers import public_status, read_complaint
from intake.schemas import UNREADABLE_BODY, ComplaintStatus, ErrorBody, LocationIn
from services.contracts.actions import (
    ComplaintAcknowledged,
    ComplaintCommented,
    ComplaintReassigned,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
)
from services.contracts.routing import ComplaintDuplicateUnlinked

router = APIRouter(prefix="/v1", tags=["staff"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 503)
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcknowledgeIn(_Body):
    """The department takes the complaint on."""

    note: str | None = Field(default=None, min_length=1, max_length=1000, description="Shown to the citizen.")


class CommentIn(_Body):
    """A note; ``public`` ones are shown to the citizen."""

    text: str = Field(min_length=1, max_length=2000)
    public: bool = False


class ReassignIn(_Body):
    """Another department and/or category (a category alone brings its default department)."""

    department: str | None = Field(default=None, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    reason: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _something_changes(self) -> ReassignIn:
        if self.department is None and self.category is None:
            raise ValueError("give a department, a category or both")
        return self


class ResolveIn(_Body):
    """Done; the note tells the citizen what was done."""

    note: str = Field(min_length=1, max_length=1000)


class ReasonIn(_Body):
    """Why (told to the citizen)."""

    reason: str = Field(min_length=1, max_length=1000)


class ActionAccepted(BaseModel):
    """The action is durable in Kafka; the complaint's record follows within moments."""

    complaint_id: str
    event_id: str
    type: str
    status: str


async def _act(
    model: type[staff.Action],
    complaint_id: str,
    body: BaseModel,
    request: Request,
    intake: IntakeDep,
    principal: StaffDep,
    key: str | None,
) -> JSONResponse:
    async def work() -> tuple[int, dict[str, Any]]:
        result = await staff.act(
            model,
            complaint_id,
            body.model_dump(exclude_none=True),
            principal=principal,
            store=intake.store,
            publisher=intake.publisher,
            taxonomy=intake.taxonomy,
        )
        return 202, result

    scope = f"staff:{principal.key_id}:{complaint_id}:{model.TYPE}"
    return await idempotency.respond_once(intake.store, scope, key, await request.body(), work)


_ACTION: dict[str, Any] = {
    "status_code": 202,
    "response_model": ActionAccepted,
    "responses": {**UNREADABLE_BODY, **_ERRORS},
}


@router.post("/complaints/{complaint_id}/acknowledge", summary="Acknowledge a complaint", **_ACTION)
async def acknowledge(
    complaint_id: str,
    body: AcknowledgeIn,
    request: Request,
    intake: IntakeDep,
    who: StaffDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """routed or reopened → acknowledged."""
    return await _act(ComplaintAcknowledged, complaint_id, body, request, intake, who, idempotency_key)


@router.post("/complaints/{complaint_id}/comment", summary="Comment, public or internal", **_ACTION)
async def comment(
    complaint_id: str,
    body: CommentIn,
    request: Request,
    intake: IntakeDep,
    who: StaffDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Any status; the status does not change."""
    return await _act(ComplaintCommented, complaint_id, body, request, intake, who, idempotency_key)


@router.post(
    "/complaints/{complaint_id}/reassign", summary="Reassign to another department/category", **_ACTION
)
async def reassign(
    complaint_id: str,
    body: ReassignIn,
    request: Request,
    intake: IntakeDep,
    who: StaffDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Any open status → routed, in the new department."""
    return await _act(ComplaintReassigned, complaint_id, body, request, intake, who, idempotency_key)


@router.post("/complaints/{complaint_id}/resolve", summary="Resolve, with a note for the citizen", **_ACTION)
async def resolve(
    complaint_id: str,
    body: ResolveIn,
    request: Request,
    intake: IntakeDep,
    who: StaffDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """routed, acknowledged or reopened → resolved."""
    return await _act(ComplaintResolved, complaint_id, body, request, intake, who, idempotency_key)


@router.post("/complaints/{complaint_id}/reject", summary="Reject, with the reason", **_ACTION)
async def reject(
    complaint_id: str,
    body: ReasonIn,
    request: Request,
    intake: IntakeDep,
    who: StaffDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Any open status but received → rejected."""
    return await _act(ComplaintRejected, complaint_id, body, request, intake, who, idempotency_key)


@router.post(
    "/complaints/{complaint_id}/reopen", summary="Reopen a resolved or rejected complaint", **_ACTION
)
async def reopen(
    complaint_id: str,
    body: ReasonIn,
    request: Request,
    intake: IntakeDep,
    who: StaffDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """resolved or rejected → reopened."""
    return await _act(ComplaintReopened, complaint_id, body, request, intake, who, idempotency_key)


@router.post("/complaints/{complaint_id}/unlink", summary="Not a duplicate: route it on its own", **_ACTION)
async def unlink(
    complaint_id: str,
    body: ReasonIn,
    request: Request,
    intake: IntakeDep,
    who: StaffDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """duplicate → routed (or triage): the router decides for the complaint again, on its own."""
    return await _act(ComplaintDuplicateUnlinked, complaint_id, body, request, intake, who, idempotency_key)


class PartnerComplaint(ComplaintStatus):
    """A partner's view of a complaint: the public record plus what it is about; no personal data."""

    id: str
    channel: str
    text: str
    address: str | None = None
    district: str | None = None
    location: LocationIn | None = None
    media_urls: list[str] = []
    updated_at: datetime | None = None


@router.get(
    "/partner/complaints/{complaint_id}",
    response_model=PartnerComplaint,
    responses=_ERRORS,
    summary="A complaint by id, for partner systems (scope complaints:read)",
)
async def partner_complaint(complaint_id: str, intake: IntakeDep, _: PartnerReadDep) -> PartnerComplaint:
    """The public record and the complaint's text and place; never the phone or a name."""
    doc = await read_complaint(intake.store, complaint_id)
    timeline = doc.get("timeline", [])
    return PartnerComplaint(
        **public_status(doc, intake.taxonomy).model_dump(),
        id=doc["_id"],
        channel=doc["channel"],
        text=doc["text"],
        address=doc.get("address"),
        district=doc.get("district"),
        location=doc.get("location"),
        media_urls=doc.get("media_urls") or [],
        updated_at=timeline[-1]["at"] if timeline else None,
    )
