"""One table from exception to HTTP status and error code, with messages in Persian and English."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from intake.ratelimit import RateLimited
from services.errors import DependencyUnavailable, NotFound, PasokhError
from services.lifecycle import InvalidTransition

log = logging.getLogger(__name__)


class IdempotencyConflict(PasokhError):
    """A request with the same Idempotency-Key is still being processed."""


class IdempotencyMismatch(PasokhError):
    """The Idempotency-Key was used before with a different body."""


class BodyTooLarge(PasokhError):
    """The request body is larger than the configured limit."""


class NulInInput(PasokhError):
    """The request carries a NUL character, which no field may hold (MongoDB-wire servers refuse it)."""


class Unauthorized(PasokhError):
    """No valid API key was presented."""


class Forbidden(PasokhError):
    """The key is valid but does not allow this action."""


class ChannelNeedsKey(PasokhError):
    """Only the web form and the app submit without a key."""


class OutsideCity(PasokhError):
    """The location is outside the city this deployment serves."""


class PlaceRequired(PasokhError):
    """Neither a location nor an address or district was given."""


class UnknownDepartment(PasokhError):
    """The department is not one of this city's departments."""


class UnknownCategory(PasokhError):
    """The category hint is not one of this city's service codes."""


class SmsWebhooksNotConfigured(PasokhError):
    """No SMS webhook secret is set (PASOKH_INTAKE__SMS_WEBHOOK_SECRET): every webhook is refused."""


class InvalidWebhookSignature(PasokhError):
    """An SMS provider's webhook request is not signed with the webhook secret (or is too old)."""


class SmsInProgress(PasokhError):
    """The same provider message is being processed by another request right now."""


class UnsupportedMediaType(PasokhError):
    """The request's Content-Type is not one this endpoint reads."""


class InvalidJson(PasokhError):
    """The request body is not valid JSON."""


class InvalidBatch(PasokhError):
    """A CloudEvents batch that is not a JSON array."""


class BatchTooLarge(PasokhError):
    """More events in one batch than allowed."""


class InvalidCloudEvent(PasokhError):
    """An event whose CloudEvents attributes are missing or malformed."""


class UnsupportedSpecVersion(PasokhError):
    """An event of a CloudEvents version other than 1.0."""


class UnknownEventType(PasokhError):
    """An event type that this endpoint does not accept."""


class InvalidEventData(PasokhError):
    """An event whose data does not match the JSON Schema of its type."""


class ComplaintNotFound(NotFound):
    """No complaint has the id or tracking code that an event names."""


class EventInProgress(PasokhError):
    """An event with the same source and id is being processed right now."""


# exception class → (HTTP status, code, Persian message, English message)
ERRORS: dict[type[Exception], tuple[int, str, str, str]] = {
    RequestValidationError: (
        422,
        "invalid_request",
        "اطلاعات ارسال‌شده معتبر نیست؛ جزئیات را ببینید.",
        "The request is not valid; see details.",
    ),
    Unauthorized: (
        401,
        "unauthorized",
        "کلید دسترسی معتبر لازم است.",
        "A valid API key is required (Authorization: Bearer <key>).",
    ),
    Forbidden: (403, "forbidden", "این کلید اجازه این کار را ندارد.", "This key does not allow this action."),
    NotFound: (404, "not_found", "موردی با این مشخصات پیدا نشد.", "Nothing was found with these details."),
    IdempotencyConflict: (
        409,
        "idempotency_in_progress",
        "درخواستی با همین کلید هنوز در حال انجام است؛ کمی بعد دوباره تلاش کنید.",
        "A request with this Idempotency-Key is still in progress; retry shortly.",
    ),
    IdempotencyMismatch: (
        422,
        "idempotency_key_reused",
        "این کلید تکرار قبلاً با محتوای دیگری به کار رفته است.",
        "This Idempotency-Key was already used with a different request body.",
    ),
    UnknownCategory: (
        422,
        "unknown_category",
        "این دسته‌بندی در فهرست خدمات شهر نیست.",
        "This category is not one of the city's service codes.",
    ),
    ChannelNeedsKey: (
        403,
        "channel_needs_key",
        "ثبت از این مسیر فقط با کلید دسترسی ممکن است.",
        "Only the web and app channels may submit without an API key.",
    ),
    OutsideCity: (
        422,
        "location_outside_city",
        "مکان انتخاب‌شده خارج از محدوده شهر است.",
        "The location is outside the city's bounds.",
    ),
    PlaceRequired: (
        422,
        "place_required",
        "لطفاً مکان را روی نقشه مشخص کنید یا نشانی یا منطقه را بنویسید.",
        "Give a location on the map, an address or a district.",
    ),
    UnknownDepartment: (
        422,
        "unknown_department",
        "این واحد در فهرست واحدهای شهر نیست.",
        "This department is not one of the city's departments.",
    ),
    InvalidTransition: (
        409,
        "invalid_transition",
        "این اقدام در وضعیت فعلی درخواست ممکن نیست.",
        "This action is not possible in the complaint's current status.",
    ),
    RateLimited: (
        429,
        "rate_limited",
        "تعداد درخواست‌ها بیش از حد مجاز است؛ کمی بعد دوباره تلاش کنید.",
        "Too many requests; retry after the time in Retry-After.",
    ),
    SmsWebhooksNotConfigured: (
        503,
        "sms_webhooks_not_configured",
        "دریافت پیامک پیکربندی نشده است.",
        "SMS webhooks are not configured (set PASOKH_INTAKE__SMS_WEBHOOK_SECRET).",
    ),
    InvalidWebhookSignature: (
        401,
        "invalid_signature",
        "امضای درخواست معتبر نیست یا زمان آن گذشته است.",
        "The request must be signed: X-Pasokh-Timestamp (unix seconds, within 300 s) and "
        "X-Pasokh-Signature: sha256=<hex HMAC-SHA256 of '<timestamp>.<body>' with the webhook secret>.",
    ),
    SmsInProgress: (
        409,
        "sms_in_progress",
        "این پیامک هم‌اکنون در حال پردازش است؛ کمی بعد دوباره تلاش کنید.",
        "This message is being processed right now; retry shortly.",
    ),
    NulInInput: (
        422,
        "nul_character",
        "درخواست نویسهٔ NUL دارد که در هیچ خانه‌ای پذیرفته نیست.",
        "The request contains a NUL character, which no field accepts.",
    ),
    BodyTooLarge: (
        413,
        "body_too_large",
        "حجم درخواست بیش از حد مجاز است.",
        "The request body is too large.",
    ),
    DependencyUnavailable: (
        503,
        "unavailable",
        "سامانه موقتاً در دسترس نیست؛ لطفاً چند لحظه بعد دوباره تلاش کنید.",
        "The service is temporarily unavailable; please retry in a moment.",
    ),
    UnsupportedMediaType: (
        415,
        "unsupported_media_type",
        "نوع محتوای درخواست پشتیبانی نمی‌شود.",
        "Unsupported Content-Type: send application/cloudevents+json (one event) or "
        "application/cloudevents-batch+json (a JSON array of events).",
    ),
    InvalidJson: (
        400,
        "invalid_json",
        "بدنه درخواست JSON معتبر نیست.",
        "The request body is not valid JSON.",
    ),
    InvalidBatch: (
        422,
        "invalid_batch",
        "دسته رویدادها باید آرایه‌ای JSON از رویدادها باشد.",
        "A batch must be a JSON array of CloudEvents.",
    ),
    BatchTooLarge: (
        413,
        "batch_too_large",
        "تعداد رویدادهای این دسته بیش از حد مجاز است.",
        "Too many events in one batch; see details for the limit.",
    ),
    InvalidCloudEvent: (
        422,
        "invalid_cloudevent",
        "رویداد در قالب CloudEvents 1.0 معتبر نیست؛ جزئیات را ببینید.",
        "The event is not a valid CloudEvents 1.0 event; see details.",
    ),
    UnsupportedSpecVersion: (
        422,
        "unsupported_specversion",
        "فقط نسخه 1.0 از CloudEvents پشتیبانی می‌شود.",
        "Only CloudEvents specversion 1.0 is supported.",
    ),
    UnknownEventType: (
        422,
        "unknown_event_type",
        "این نوع رویداد پذیرفته نمی‌شود.",
        "This event type is not accepted; see details for the accepted types.",
    ),
    InvalidEventData: (
        422,
        "invalid_event_data",
        "داده رویداد با طرح‌واره نوع آن نمی‌خواند؛ جزئیات را ببینید.",
        "The event's data does not match the JSON Schema of its type; see details.",
    ),
    ComplaintNotFound: (
        404,
        "complaint_not_found",
        "درخواستی با این شناسه یا کد رهگیری پیدا نشد.",
        "No complaint has this id or tracking code.",
    ),
    EventInProgress: (
        409,
        "event_in_progress",
        "رویدادی با همین منبع و شناسه در حال پردازش است؛ کمی بعد دوباره تلاش کنید.",
        "An event with this source and id is being processed right now; retry shortly.",
    ),
}


def error_response(exc: Exception, details: Any = None) -> JSONResponse:
    """The JSON response for ``exc`` according to :data:`ERRORS`."""
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            status, code, fa, en = ERRORS[cls]
            break
    else:
        status, code = 500, "internal_error"
        fa, en = "خطای داخلی رخ داد.", "An internal error occurred."
    body: dict[str, Any] = {"code": code, "message": {"fa": fa, "en": en}}
    if details is not None:
        body["details"] = details
    headers = {"Retry-After": "5"} if code in ("idempotency_in_progress", "unavailable") else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="pasokh"'}
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "problem": err.get("msg", "")}
        for err in exc.errors()
    ]


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into the JSON error body."""

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(exc, _validation_details(exc))

    async def on_pasokh(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DependencyUnavailable):
            log.warning("dependency unavailable", extra={"reason": str(exc)})
        return error_response(exc)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error_response(NotFound())
        body = {
            "code": f"http_{exc.status_code}",
            "message": {"fa": "درخواست پذیرفته نشد.", "en": str(exc.detail)},
        }
        return JSONResponse({"error": body}, status_code=exc.status_code, headers=exc.headers)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(exc)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(PasokhError, on_pasokh)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
