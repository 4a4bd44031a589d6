"""One table from exception to HTTP status and error code, with messages in Persian and English."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import DependencyUnavailable, NotFound, PasokhError
from services.lifecycle import InvalidTransition

log = logging.getLogger(__name__)


class IdempotencyConflict(PasokhError):
    """A request with the same Idempotency-Key is still being processed."""


class IdempotencyMismatch(PasokhError):
    """The Idempotency-Key was used before with a different body."""


class BodyTooLarge(PasokhError):
    """The request body is larger than the configured limit."""


class Unauthorized(PasokhError):
    """No valid API key was presented."""


class Forbidden(PasokhError):
    """The key is valid but does not allow this action."""


class UnknownDepartment(PasokhError):
    """The department is not one of this city's departments."""


class UnknownCategory(PasokhError):
    """The category hint is not one of this city's service codes."""


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
    BodyTooLarge: (
        413,
        "body_too_large",
        "حجم درخواست بیش از حد مجاز است.",
        "The request body is too large.",
    ),
    DependencyUnavailable: (
        503,
        "unavailable",
        "سامانه موقتاً در دسترس نیست و درخواست ثبت نشد؛ لطفاً دوباره تلاش کنید.",
        "The service is temporarily unavailable and nothing was recorded; please retry.",
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
