"""Open311 errors: the HTTP status the spec asks for and a ``{code, description}`` list.

The spec: 404 for a resource that does not exist, 403 for a missing or wrong ``api_key`` and 400 for
any other request that cannot be fulfilled, including a general service error ("eg CRM is down").
The body's code may be more specific than the HTTP status; ours is the HTTP status except for a
service that is down (503, with ``Retry-After``) and a key over its rate (429, the one status the
spec does not name, also what intake's per-client limit answers on every path) and a body over the
size limit (400 with code 413). Refusals made before any handler (body size, NUL, the per-client
rate) take this form too on ``/open311/`` paths (``intake.limits.refusal``).
"""

from __future__ import annotations

from intake.errors import ERRORS, BodyTooLarge, Forbidden, IdempotencyConflict, Unauthorized
from intake.ratelimit import RateLimited
from services.errors import DependencyUnavailable, NotFound, PasokhError


class Open311Error(Exception):
    """A request Open311 refuses with ``status`` and one or more descriptions."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code or status
        self.description = description
        self.headers = headers


def bad_request(description: str) -> Open311Error:
    """400: a parameter is missing or invalid."""
    return Open311Error(400, description)


def not_found(description: str) -> Open311Error:
    """404: the resource does not exist."""
    return Open311Error(404, description)


def forbidden(description: str) -> Open311Error:
    """403: the api_key is missing, wrong, or does not allow this."""
    return Open311Error(403, description)


def from_pasokh(exc: PasokhError) -> Open311Error:
    """The Open311 form of one of intake's own errors (their English message is the description)."""
    english = next((ERRORS[cls][3] for cls in type(exc).__mro__ if cls in ERRORS), str(exc) or "Error.")
    if isinstance(exc, NotFound):
        return not_found(english)
    if isinstance(exc, Unauthorized | Forbidden):
        return forbidden(english)
    if isinstance(exc, RateLimited):
        return Open311Error(429, english, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, BodyTooLarge):
        return Open311Error(400, english, code=413)
    if isinstance(exc, DependencyUnavailable | IdempotencyConflict):
        return Open311Error(400, english, code=503, headers={"Retry-After": "5"})
    return bad_request(english)
