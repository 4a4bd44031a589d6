"""The city's routing configuration, for administrators (keys with the ``admin`` scope).

Rules (category × district × time window → department, first match wins), departments added to the
taxonomy's, and the districts' GeoJSON. Every change bumps a version the router watches, so it takes
effect within seconds, without a restart.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from intake.auth import Principal, require
from intake.deps import IntakeDep
from intake.errors import UnknownCategory, UnknownDepartment
from intake.schemas import UNREADABLE_BODY, ErrorBody
from services import rules
from services.errors import NotFound
from services.geo import DistrictMap, InvalidDistricts
from services.rules import DepartmentIn, Rule
from services.taxonomy import EmailAddress

router = APIRouter(prefix="/v1/admin", tags=["admin"])
AdminDep = Annotated[Principal, Depends(require("admin"))]
Code = Annotated[str, Path(pattern=rules.CODE_PATTERN)]
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 422, 503)}
# Routes that read a body also answer 400 when it cannot be read at all.
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {**UNREADABLE_BODY, **_ERRORS}


def _invalid(field: str, message: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": kind}])


class RuleIn(BaseModel):
    """A routing rule; absent conditions match everything. Times are Tehran local times."""

    model_config = ConfigDict(extra="forbid")

    order: int = Field(default=100, ge=0, le=1_000_000, description="Lower is tried first.")
    department: str = Field(min_length=1, max_length=64)
    category: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    days: list[rules.Day] | None = Field(default=None, min_length=1, description="sat … fri")
    start: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["22:00"])
    end: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["06:00"])
    note: str | None = Field(default=None, max_length=500)


class DepartmentBody(BaseModel):
    """A department's names."""

    model_config = ConfigDict(extra="forbid")

    fa: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)
    emails: tuple[EmailAddress, ...] = Field(default=(), max_length=20, description="Get e-mail notices.")


class DistrictSummary(BaseModel):
    """A district without its outline."""

    code: str
    fa: str
    en: str


class RoutingConfig(BaseModel):
    """Everything the router routes by."""

    version: int
    rules: list[Rule]
    departments: list[DepartmentIn]
    districts: list[DistrictSummary]


async def _validate(intake: IntakeDep, rule: rules.Rule) -> None:
    problem = await rules.check_rule(intake.store, intake.taxonomy, rule)
    if problem is None:
        return
    field, message = problem
    if field == "category":
        raise UnknownCategory(rule.category)
    if field == "department":
        raise UnknownDepartment(rule.department)
    raise _invalid(field, message, f"unknown_{field}")


@router.get("/routing", response_model=RoutingConfig, responses=_ERRORS, summary="The routing configuration")
async def routing_config(intake: IntakeDep, _: AdminDep) -> RoutingConfig:
    """Rules in the order they are tried, the added departments, the districts."""
    districts = await rules.load_stored_districts(intake.store)
    return RoutingConfig(
        version=await rules.version(intake.store),
        rules=await rules.list_rules(intake.store),
        departments=await rules.list_departments(intake.store),
        districts=[DistrictSummary(code=d.code, fa=d.fa, en=d.en) for d in districts.districts.values()],
    )


@router.put(
    "/routing/rules/{rule_id}",
    response_model=rules.Rule,
    responses=_BODY_ERRORS,
    summary="Create or replace a rule",
)
async def put_rule(rule_id: Code, body: RuleIn, intake: IntakeDep, _: AdminDep) -> rules.Rule:
    """The rule applies to complaints the router decides from a few seconds later."""
    rule = rules.Rule(id=rule_id, **body.model_dump(exclude_none=True))
    await _validate(intake, rule)
    await rules.put_rule(intake.store, rule)
    return rule


@router.delete("/routing/rules/{rule_id}", status_code=204, responses=_ERRORS, summary="Delete a rule")
async def delete_rule(rule_id: Code, intake: IntakeDep, _: AdminDep) -> Response:
    """404 if there is no such rule."""
    if not await rules.delete_rule(intake.store, rule_id):
        raise NotFound()
    return Response(status_code=204)


@router.put(
    "/departments/{code}",
    response_model=rules.DepartmentIn,
    responses=_BODY_ERRORS,
    summary="Add a department or rename one",
)
async def put_department(
    code: Code, body: DepartmentBody, intake: IntakeDep, _: AdminDep
) -> rules.DepartmentIn:
    """Rules may name it at once."""
    department = rules.DepartmentIn(code=code, fa=body.fa, en=body.en, emails=body.emails)
    await rules.put_department(intake.store, department)
    return department


@router.delete(
    "/departments/{code}", status_code=204, responses=_ERRORS, summary="Remove an added department"
)
async def delete_department(code: Code, intake: IntakeDep, _: AdminDep) -> Response:
    """Only departments added here can be removed (the taxonomy's stay); rules naming it are skipped."""
    if not await rules.delete_department(intake.store, code):
        raise NotFound()
    return Response(status_code=204)


# One district as the body of PUT /v1/admin/districts expects it (also the example in the API docs).
DISTRICTS_EXAMPLE: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "1", "fa": "منطقه ۱", "en": "District 1"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[50.95, 35.80], [51.00, 35.80], [51.00, 35.84], [50.95, 35.84], [50.95, 35.80]]
                ],
            },
        }
    ],
}


@router.get("/districts", responses=_ERRORS, summary="The districts as GeoJSON")
async def get_districts(intake: IntakeDep, _: AdminDep) -> dict[str, Any]:
    """A FeatureCollection whose features carry ``code``, ``fa`` and ``en``."""
    return (await rules.load_stored_districts(intake.store)).to_geojson()


@router.put(
    "/districts",
    response_model=list[DistrictSummary],
    responses=_BODY_ERRORS,
    summary="Replace the districts",
)
async def put_districts(
    intake: IntakeDep,
    _: AdminDep,
    document: Annotated[
        dict[str, Any],
        Body(description="A GeoJSON FeatureCollection of (Multi)Polygons.", examples=[DISTRICTS_EXAMPLE]),
    ],
) -> list[DistrictSummary]:
    """Each feature needs ``properties.code`` (and ``fa``, ``en`` names) and a valid outline."""
    try:
        districts = DistrictMap.from_geojson(document)
    except InvalidDistricts as exc:
        raise _invalid("geojson", str(exc), "invalid_districts") from exc
    await rules.put_districts(intake.store, districts)
    return [DistrictSummary(code=d.code, fa=d.fa, en=d.en) for d in districts.districts.values()]
