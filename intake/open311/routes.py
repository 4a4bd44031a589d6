"""Open311 GeoReport v2 under ``/open311/v2/`` (wiki.open311.org/GeoReport_v2), ``.json`` and ``.xml``.

Methods: discovery, services, service definitions, POST/GET requests, GET a request, tokens, and
mySociety's ``servicerequestupdates`` extension (GET and POST) for two-way updates. One jurisdiction
per deployment, so ``jurisdiction_id`` is accepted and ignored, as the spec allows. Every error,
including an unknown path or format under the prefix, is the spec's ``errors`` document.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pymongo.errors import PyMongoError
from starlette.datastructures import QueryParams

from intake import auth, handlers, idempotency, staff
from intake.deps import IntakeDep
from intake.metrics import SUBMITTED
from intake.open311 import forms, render
from intake.open311 import handlers as georeport
from intake.open311 import schemas as doc
from intake.open311.errors import Open311Error, bad_request, forbidden, from_pasokh
from intake.open311.render import FORMATS, Format
from services.errors import DependencyUnavailable, PasokhError

router = APIRouter(prefix="/open311/v2", tags=["open311"])
# Documented as an enum; any other value is answered by the handler (404 in the spec's error format).
FormatParam = Annotated[
    str,
    Path(
        description="`json` or `xml` (the spec's required format).",
        json_schema_extra={"enum": ["json", "xml"]},
    ),
]
_STARTED = datetime.now(UTC)


def _language(request: Request) -> georeport.Language:
    return georeport.choose_language(
        request.query_params.get("locale"), request.headers.get("accept-language")
    )


def _headers(lang: georeport.Language) -> dict[str, str]:
    return {"Content-Language": lang}


def _param(params: QueryParams, name: str) -> str | None:
    value = params.get(name, "").strip()
    return value or None


async def _answer(fmt: str, work: Callable[[Format], Awaitable[Response]]) -> Response:
    """Run ``work`` in the format ``fmt`` names; every refusal in the spec's error format."""
    chosen = FORMATS.get(fmt)
    if chosen is None:
        return render.errors("xml", 404, [(404, f"format {fmt} is not served here: use .xml or .json")])
    try:
        return await work(chosen)
    except Open311Error as exc:
        return render.errors(chosen, exc.status, [(exc.code, exc.description)], headers=exc.headers)
    except PasokhError as exc:
        refusal = from_pasokh(exc)
        return render.errors(
            chosen, refusal.status, [(refusal.code, refusal.description)], headers=refusal.headers
        )


async def _principal(request: Request, form: forms.Form, scopes: tuple[str, ...]) -> auth.Principal:
    """The caller of a POST: ``api_key`` in the body (or a header); 403 unless it grants one of ``scopes``."""
    raw = next((v.strip() for v in form.get("api_key", ()) if v.strip()), None) or auth.presented_key(request)
    if raw is None:
        raise forbidden("api_key was not provided")
    try:
        principal = await auth.authenticate(request.app.state.intake.store, raw)
    except PyMongoError as exc:
        raise DependencyUnavailable(f"could not check the api_key: {exc}") from exc
    if principal is None:
        raise forbidden("Invalid api_key received")
    if not any(principal.has(scope) for scope in scopes):
        raise forbidden(f"this api_key does not allow this (it needs {' or '.join(scopes)})")
    return principal


async def _once(
    request: Request, scope: str, key: str | None, body: bytes, work: Callable[[], Awaitable[dict[str, Any]]]
) -> tuple[dict[str, Any], bool]:
    """Run ``work`` once per ``key`` (replaying its answer afterwards); (content, replayed)."""
    store = request.app.state.intake.store
    if key is None:
        return await work(), False
    if len(key) > 255:
        raise bad_request("the idempotency key is longer than 255 characters")
    replay = await idempotency.claim(store, scope, key, body)
    if replay is not None:
        return replay[1], True
    try:
        content = await work()
    except BaseException:
        await idempotency.release(store, scope, key)
        raise
    await idempotency.complete(store, scope, key, 200, content)
    return content, False


def _changeset(taxonomy_file: os.PathLike[str] | None) -> datetime:
    """When the services last changed: the taxonomy file's modification time."""
    try:
        path = taxonomy_file or str(resources.files("services.data").joinpath("taxonomy.toml"))
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
    except OSError:
        return _STARTED


@router.get(
    "/discovery.{fmt}",
    summary="Service discovery (endpoints, formats, contact, key service)",
    responses=doc.responses(doc.Discovery, 404, 429),
    openapi_extra={"parameters": doc.LANGUAGE},
)
async def discovery(fmt: FormatParam, request: Request, intake: IntakeDep) -> Response:
    """The Service Discovery document for this GeoReport v2 endpoint."""

    async def work(f: Format) -> Response:
        lang = _language(request)
        value = georeport.discovery(
            url=str(request.base_url).rstrip("/") + router.prefix,
            changeset=_changeset(intake.settings.taxonomy_file),
            production=intake.settings.env == "prod",
            lang=lang,
        )
        return render.document(f, "discovery", value, headers=_headers(lang))

    return await _answer(fmt, work)


@router.get(
    "/services.{fmt}",
    summary="GET Service List: the city's service codes",
    responses=doc.responses(list[doc.Service], 404, 429),
    openapi_extra={"parameters": doc.LANGUAGE},
)
async def services(fmt: FormatParam, request: Request, intake: IntakeDep) -> Response:
    """Every category as an Open311 service, named in Persian (default) or English."""

    async def work(f: Format) -> Response:
        lang = _language(request)
        return render.document(
            f, "services", georeport.service_list(intake.taxonomy, lang), headers=_headers(lang)
        )

    return await _answer(fmt, work)


@router.get(
    "/services/{service_code}.{fmt}",
    summary="GET Service Definition: a service's attributes",
    responses=doc.responses(doc.ServiceDefinition, 404, 429),
    openapi_extra={"parameters": doc.LANGUAGE},
)
async def service_definition(
    service_code: str, fmt: FormatParam, request: Request, intake: IntakeDep
) -> Response:
    """The extra questions (attributes) of one service."""

    async def work(f: Format) -> Response:
        lang = _language(request)
        value = georeport.service_definition(intake.taxonomy, service_code, lang)
        return render.document(f, "service_definition", value, headers=_headers(lang))

    return await _answer(fmt, work)


@router.post(
    "/requests.{fmt}",
    summary="POST Service Request (api_key with complaints:write)",
    description="application/x-www-form-urlencoded. The complaint takes the same durable path as "
    "POST /v1/complaints (channel `partner`); the answer's service_request_id is the tracking code. "
    "An `Idempotency-Key` header is honoured as in /v1.",
    responses=doc.responses(list[doc.CreatedRequest], 400, 403, 404, 429),
    openapi_extra={**doc.POST_REQUEST, "parameters": doc.LANGUAGE},
)
async def post_request(fmt: FormatParam, request: Request, intake: IntakeDep) -> Response:
    """Validate, publish to Kafka and answer with the tracking code."""

    async def work(f: Format) -> Response:
        lang = _language(request)
        body = await request.body()
        form = forms.parse_form(body, request.headers.get("content-type"))
        principal = await _principal(request, form, ("complaints:write",))
        intake.limits.per_key.take(principal.key_id)
        checked = forms.submission(form, intake.taxonomy, lang)
        category = intake.taxonomy.categories.get(checked.complaint.category or "")

        async def submit() -> dict[str, Any]:
            accepted = await handlers.submit_complaint(
                checked.complaint,
                store=intake.store,
                publisher=intake.publisher,
                sealer=intake.sealer,
                taxonomy=intake.taxonomy,
                city=intake.settings.city,
                attributes=checked.attributes,
                codes=intake.codes,
                received=intake.received,
            )
            SUBMITTED.labels("partner").inc()
            created = {
                "service_request_id": accepted.tracking_code,
                "service_notice": georeport.service_notice(category, lang),
                "account_id": checked.account_id,
            }
            return {"service_requests": [created]}

        key = request.headers.get("idempotency-key")
        content, replayed = await _once(request, f"open311-requests:{principal.key_id}", key, body, submit)
        headers = {**_headers(lang), **({"Idempotent-Replayed": "true"} if replayed else {})}
        return render.document(f, "service_requests", content["service_requests"], headers=headers)

    return await _answer(fmt, work)


@router.get(
    "/requests.{fmt}",
    summary="GET Service Requests",
    description="Filters: service_request_id (comma list; overrides the others), service_code, "
    "start_date, end_date (w3 format, at most 90 days apart), status (open, closed). Defaults: the last "
    "90 days, at most 1000 requests, newest first.",
    responses=doc.responses(list[doc.ServiceRequest], 400, 404, 429),
    openapi_extra={"parameters": doc.REQUESTS_QUERY},
)
async def get_requests(fmt: FormatParam, request: Request, intake: IntakeDep) -> Response:
    """Public fields of the matching complaints; never a phone, name or e-mail."""

    async def work(f: Format) -> Response:
        lang = _language(request)
        params = request.query_params
        query = georeport.request_query(
            ids=params.getlist("service_request_id"),
            service_codes=params.getlist("service_code"),
            start_date=_param(params, "start_date"),
            end_date=_param(params, "end_date"),
            statuses=params.getlist("status"),
            now=datetime.now(UTC),
        )
        docs = await georeport.find_requests(intake.store, query)
        value = [georeport.request_fields(doc, intake.taxonomy, lang) for doc in docs]
        return render.document(f, "service_requests", value, headers=_headers(lang))

    return await _answer(fmt, work)


@router.get(
    "/requests/{service_request_id}.{fmt}",
    summary="GET Service Request",
    responses=doc.responses(list[doc.ServiceRequest], 400, 404, 429),
    openapi_extra={"parameters": doc.LANGUAGE},
)
async def get_request(
    service_request_id: str, fmt: FormatParam, request: Request, intake: IntakeDep
) -> Response:
    """One complaint by its tracking code."""

    async def work(f: Format) -> Response:
        lang = _language(request)
        doc = await georeport.find_request(intake.store, service_request_id)
        value = [georeport.request_fields(doc, intake.taxonomy, lang)]
        return render.document(f, "service_requests", value, headers=_headers(lang))

    return await _answer(fmt, work)


@router.get(
    "/tokens/{token}.{fmt}",
    summary="GET service_request_id from a token",
    description="Every service is realtime, so POST requests never answers with a token; the id that "
    "/v1/complaints answers with works as one.",
    responses=doc.responses(list[doc.Token], 400, 404, 429),
)
async def get_token(token: str, fmt: FormatParam, intake: IntakeDep) -> Response:
    """The tracking code behind a token."""

    async def work(f: Format) -> Response:
        return render.document(f, "service_requests", [await georeport.find_token(intake.store, token)])

    return await _answer(fmt, work)


@router.get(
    "/servicerequestupdates.{fmt}",
    summary="GET Service Request Updates (mySociety's extension)",
    description="Public updates of every request between start_date and end_date (w3 format; by "
    "default the last 90 days), oldest first, at most 1000.",
    responses=doc.responses(list[doc.RequestUpdate], 400, 404, 429),
    openapi_extra={"parameters": doc.UPDATES_QUERY},
)
async def get_updates(fmt: FormatParam, request: Request, intake: IntakeDep) -> Response:
    """Each public step after submission: status, note, time."""

    async def work(f: Format) -> Response:
        lang = _language(request)
        params = request.query_params
        start_date, end_date = _param(params, "start_date"), _param(params, "end_date")
        start, end = georeport.window(
            georeport.parse_w3(start_date, "start_date") if start_date else None,
            georeport.parse_w3(end_date, "end_date") if end_date else None,
            datetime.now(UTC),
        )
        value = await georeport.find_updates(intake.store, start, end, lang)
        return render.document(f, "service_request_updates", value, headers=_headers(lang))

    return await _answer(fmt, work)


@router.post(
    "/servicerequestupdates.{fmt}",
    summary="POST Service Request Update (mySociety's extension; api_key with events:write or staff)",
    description="A department's system moves a request on: CLOSED/FIXED resolve it, "
    "NOT_COUNCILS_RESPONSIBILITY/NO_FURTHER_ACTION reject it, OPEN/REOPEN reopen a closed one, "
    "IN_PROGRESS/ACTION_SCHEDULED/INVESTIGATING acknowledge a routed one; otherwise the description "
    "is added as a public note. The key must be allowed to act on the request's department. The "
    "client's update_id makes a retry safe.",
    responses=doc.responses(list[doc.CreatedUpdate], 400, 403, 404, 429),
    openapi_extra=doc.POST_UPDATE,
)
async def post_update(fmt: FormatParam, request: Request, intake: IntakeDep) -> Response:
    """Publish the staff action the update stands for; answer with its id."""

    async def work(f: Format) -> Response:
        body = await request.body()
        form = forms.parse_form(body, request.headers.get("content-type"))
        principal = await _principal(request, form, ("events:write", "staff"))
        intake.limits.per_key.take(principal.key_id)
        checked = forms.update(form)

        async def act() -> dict[str, Any]:
            doc = await georeport.find_request(intake.store, checked.service_request_id)
            model, fields = forms.update_action(checked.status, doc["status"], checked.description)
            result = await staff.act(
                model,
                doc["_id"],
                fields,
                principal=principal,
                store=intake.store,
                publisher=intake.publisher,
                taxonomy=intake.taxonomy,
            )
            return {
                "service_request_updates": [
                    {"update_id": result["event_id"], "account_id": checked.account_id}
                ]
            }

        scope = f"open311-updates:{principal.key_id}"
        content, replayed = await _once(request, scope, checked.update_id, body, act)
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return render.document(
            f, "service_request_updates", content["service_request_updates"], headers=headers
        )

    return await _answer(fmt, work)


@router.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)
async def unknown(path: str) -> Response:
    """Anything else under the prefix: 404 in the spec's error format."""
    return render.errors(
        render.format_of_path(path), 404, [(404, f"/open311/v2/{path} is not a GeoReport v2 resource")]
    )
