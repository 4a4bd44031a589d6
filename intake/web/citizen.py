"""The citizen's pages: submit a complaint, follow it by tracking code, answer the survey.

Plain HTML forms (no JavaScript needed). A submission goes through ``intake.handlers.submit_complaint``,
the code path of ``POST /v1/complaints``, so it is validated the same way and durable in Kafka before
the tracking code is shown.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from intake import handlers, idempotency, tracking
from intake.errors import OutsideCity, PlaceRequired
from intake.metrics import SUBMITTED
from intake.ratelimit import RateLimited
from intake.schemas import ComplaintIn
from intake.web.charts import district_map_svg
from intake.web.common import error_message, error_page, intake_of, render
from intake.web.districts import district_map
from intake.web.i18n import WORDS, Words, pick_lang
from services import records
from services.bus import Publisher
from services.contracts import topics
from services.contracts.complaints import ComplaintRated
from services.contracts.envelope import new_event
from services.errors import NotFound, PasokhError
from services.text import to_latin_digits

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
SOURCE = "/pasokh/intake/web"
FIELDS = ("text", "district", "address", "lat", "lon", "phone", "media")
# pydantic's error location → the form field it belongs to, and the message key shown beside it
_FIELD_OF = {
    "text": "text",
    "phone": "phone",
    "address": "address",
    "district": "district",
    "media_urls": "media",
}


def _form_values(form: Any) -> dict[str, str]:
    return {name: str(form.get(name) or "").strip() for name in FIELDS}


def _to_body(values: dict[str, str], lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON body of POST /v1/complaints for these form values, and the errors only the form can have."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"text": values["text"], "channel": "web", "language": lang}
    for name in ("district", "address", "phone"):
        if values[name]:
            body[name] = to_latin_digits(values[name]) if name == "phone" else values[name]
    lat, lon = to_latin_digits(values["lat"]), to_latin_digits(values["lon"])
    if lat or lon:
        if not (lat and lon):
            errors["lat"] = "err.latlon"
        elif not _is_float(lat):
            errors["lat"] = "err.lat"
        elif not _is_float(lon):
            errors["lon"] = "err.lon"
        else:
            body["location"] = {"lat": float(lat), "lon": float(lon)}
    media = [line.strip() for line in values["media"].splitlines() if line.strip()]
    if media:
        body["media_urls"] = media
    return body, errors


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] == "location":
            field = "lon" if "lon" in loc else "lat"
            errors[field] = f"err.{field}"
        elif loc and loc[0] in _FIELD_OF:
            field = _FIELD_OF[loc[0]]
            errors.setdefault(field, f"err.{field}" if field in ("text", "phone", "media") else "err.field")
    return errors or {"text": "err.text"}


def _submit_form(
    request: Request, values: dict[str, str], errors: dict[str, str], problem: str | None = None
) -> HTMLResponse:
    """The form with ``errors`` (field → message key or message) beside their fields."""
    t = Words(pick_lang(request))
    messages = {field: t(key) if key in WORDS else key for field, key in errors.items()}
    return render(
        request,
        "submit.html.j2",
        {
            "values": values,
            "errors": messages,
            "problem": problem,
            "form_id": str(uuid.uuid4()),
            "districts": list(district_map().districts.values()),
            "pinmap": district_map_svg(district_map(), t=t),
        },
        status_code=422 if errors or problem else 200,
    )


@router.get("/", response_class=HTMLResponse)
async def submit_page(request: Request) -> HTMLResponse:
    """The complaint form."""
    return _submit_form(request, dict.fromkeys(FIELDS, ""), {})


@router.post("/complaints/new", response_model=None)
async def submit(request: Request) -> Response:
    """Validate like the API, publish, then show the tracking code (POST → redirect → GET)."""
    intake = intake_of(request)
    lang = pick_lang(request)
    form = await request.form()
    values = _form_values(form)
    body, errors = _to_body(values, lang)
    try:
        complaint = ComplaintIn.model_validate(body)
    except ValidationError as exc:
        errors = {**_validation_errors(exc), **errors}
        return _submit_form(request, values, errors)
    if errors:
        return _submit_form(request, values, errors)
    try:
        intake.limits.per_submitter.take(request.client.host if request.client else "unknown")

        async def work() -> tuple[int, dict[str, Any]]:
            accepted = await handlers.submit_complaint(
                complaint,
                store=intake.store,
                publisher=intake.publisher,
                sealer=intake.sealer,
                taxonomy=intake.taxonomy,
                city=intake.settings.city,
                codes=intake.codes,
                received=intake.received,
            )
            SUBMITTED.labels("web").inc()
            return 202, accepted.model_dump(mode="json")

        # A double click (or a resent form) gets the first answer back: the form carries a one-time id.
        form_id = str(form.get("form_id") or "")[:64] or None
        fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
        answer = await idempotency.respond_once(intake.store, "web-form", form_id, fingerprint, work)
    except RateLimited as exc:
        return _submit_form(request, values, {}, problem=error_message(exc, lang))
    except PasokhError as exc:
        field = {OutsideCity: "lat", PlaceRequired: "district"}.get(type(exc))
        if field:
            return _submit_form(request, values, {field: error_message(exc, lang)})
        return _submit_form(request, values, {}, problem=error_message(exc, lang))
    accepted = json.loads(bytes(answer.body))
    return RedirectResponse(f"/track/{accepted['tracking_code']}?new=1", status_code=303)


@router.get("/track", response_model=None)
async def track_page(request: Request, code: str | None = None) -> Response:
    """Ask for a tracking code; with ``?code=`` go to its status page."""
    if code and code.strip():
        return RedirectResponse(f"/track/{to_latin_digits(code.strip())}", status_code=303)
    return render(request, "track.html.j2", {"code": ""})


@router.get("/track/{code}", response_class=HTMLResponse)
async def status_page(request: Request, code: str, new: int = 0, rated: int = 0) -> HTMLResponse:
    """The public status and timeline; after resolution, the survey."""
    intake = intake_of(request)
    try:
        status = await handlers.complaint_status(code, store=intake.store, taxonomy=intake.taxonomy)
        doc = await records.find_by_tracking_code(intake.store, status.tracking_code)
    except NotFound:
        return render(request, "track.html.j2", {"code": code, "not_found": True}, status_code=404)
    except PasokhError as exc:
        return error_page(request, exc)
    t = Words(pick_lang(request))
    taxonomy = intake.taxonomy
    return render(
        request,
        "status.html.j2",
        {
            "s": status,
            "category": t.name(taxonomy.categories.get(status.category or ""), status.category),
            "department": t.name(taxonomy.departments.get(status.department or ""), status.department),
            "new": bool(new),
            "rated": bool(rated) or (doc or {}).get("rating") is not None,
            "survey_open": status.status == "resolved",
        },
    )


@router.post("/track/{code}/survey", response_model=None)
async def survey(request: Request, code: str) -> Response:
    """The survey's answer (1–5) for a resolved complaint, published as ``complaint.rated``."""
    intake = intake_of(request)
    code = to_latin_digits(code.strip())
    form = await request.form()
    raw = to_latin_digits(str(form.get("rating") or ""))
    doc = await records.find_by_tracking_code(intake.store, code) if tracking.is_valid(code) else None
    if doc is None:
        return error_page(request, NotFound())
    if raw not in {"1", "2", "3", "4", "5"}:
        return RedirectResponse(f"/track/{code}?survey_error=1#survey", status_code=303)
    if doc["status"] == "resolved" and doc.get("rating") is None:
        try:
            intake.limits.per_submitter.take(request.client.host if request.client else "unknown")
            await _publish_rating(intake.publisher, doc["_id"], int(raw))
        except PasokhError as exc:  # rate limited, Kafka away: say so on a page
            return error_page(request, exc)
    return RedirectResponse(f"/track/{code}?rated=1#survey", status_code=303)


async def _publish_rating(publisher: Publisher, complaint_id: str, rating: int) -> None:
    rated = ComplaintRated(
        complaint_id=complaint_id,
        rating=rating,
        channel="web",
        answered_at=records.store_precision(datetime.now(UTC)),
    )
    await publisher.publish(topics.EVENTS, new_event(rated, subject=complaint_id, source=SOURCE))
