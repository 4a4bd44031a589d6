"""Limits enforced before a request reaches any handler: body size and per-client request rate."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.errors import BodyTooLarge, NulInInput, error_response
from intake.open311 import render as open311_render
from intake.open311.errors import from_pasokh
from intake.ratelimit import RateLimited, TokenBuckets
from services.errors import PasokhError

OPEN311_PREFIX = "/open311/"


def refusal(scope: Scope, exc: PasokhError) -> ASGIApp:
    """The answer to a request refused before any handler: Open311's error document on its paths
    (``.json`` or ``.xml`` as the path asks), intake's JSON error (fa + en) everywhere else."""
    path = scope.get("path", "")
    if path.startswith(OPEN311_PREFIX):
        refused = from_pasokh(exc)
        problems = [(refused.code, refused.description)]
        fmt = open311_render.format_of_path(path)
        return open311_render.errors(fmt, refused.status, problems, headers=refused.headers)
    return error_response(exc)


class BodyLimitMiddleware:
    """Answers 413 when the declared or the streamed body exceeds ``max_bytes``.

    A body without Content-Length (chunked) is read here, up to the limit, and handed on whole.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await refusal(scope, BodyTooLarge())(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await refusal(scope, BodyTooLarge())(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        buffered: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return buffered.pop() if buffered else await receive()

        await self.app(scope, replay, send)


# Probes and scrapes come from the platform, often many a second; the SMS provider's webhooks are
# signed and arrive in bursts (delivery reports of a survey round): neither is limited per IP.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNLIMITED_PREFIXES = ("/v1/sms/",)


class ClientRateLimitMiddleware:
    """Per client IP token bucket over every route but the operational ones; 429 with Retry-After."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path not in UNLIMITED_PATHS
            and not path.startswith(UNLIMITED_PREFIXES)
        ):
            client = scope.get("client")
            try:
                self.buckets.take(client[0] if client else "unknown")
            except RateLimited as exc:
                await refusal(scope, exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# A NUL as a raw byte, as a JSON escape, or percent-encoded (form bodies, query strings, paths).
_NUL_MARKS = (b"\x00", b"\\u0000", b"%00")


def _has_nul(data: bytes) -> bool:
    lowered = data.lower()
    return any(mark in lowered for mark in _NUL_MARKS)


class NulRejectMiddleware:
    """Refuses (422 ``nul_character``) any request whose path, query or body carries a NUL.

    No field of Pasokh can hold one, and MongoDB-wire servers refuse NUL inside strings (FerretDB on
    PostgreSQL fails the whole write), so it is turned away at the door with a clear error. The body is
    checked as it streams in (a mark split across two chunks is found too); the handler reading it
    then fails with the same error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope.get("raw_path") or b"") or _has_nul(scope.get("query_string", b"")):
            await refusal(scope, NulInInput())(scope, receive, send)
            return
        tail = b""

        async def checked() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                if _has_nul(tail + chunk):
                    raise NulInInput()
                tail = chunk[-5:]
            return message

        await self.app(scope, checked, send)
