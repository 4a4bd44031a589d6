"""``Idempotency-Key`` on POST: the same key and body get the same answer, once processed.

A key is claimed by inserting a pending record (unique ``_id``) before the work starts, so two
concurrent requests with one key cannot both do the work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import DuplicateKeyError, PyMongoError

from intake.errors import IdempotencyConflict, IdempotencyMismatch
from services.errors import DependencyUnavailable
from services.store import Store

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

# The header as OpenAPI describes it, for a route that reads it with :func:`key_of` (``openapi_extra``).
OPENAPI_PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "title": HEADER},
}

# A request holds its key at most this long; after that a retry takes the key over.
STALE_AFTER = timedelta(minutes=2)


def key_of(request: Request) -> str | None:
    """The request's ``Idempotency-Key``, None without one; 422 when it is empty or too long.

    What a ``Header(min_length=1, max_length=255)`` parameter checks, without FastAPI resolving a
    dependency on every request of a hot route.
    """
    key = request.headers.get(HEADER)
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        problem = "empty" if not key else f"longer than {MAX_KEY_LENGTH} characters"
        raise RequestValidationError(
            [
                {
                    "type": "string_length",
                    "loc": ("header", HEADER),
                    "msg": f"the key is {problem}",
                    "input": key,
                }
            ]
        )
    return key


def fingerprint(body: bytes) -> str:
    """The digest that tells whether two requests carry the same body."""
    return hashlib.sha256(body).hexdigest()


def _collection(store: Store) -> Any:
    return store.db["idempotency_keys"]


async def claim(store: Store, scope: str, key: str, body: bytes) -> tuple[int, dict[str, Any]] | None:
    """Claim ``key``; return the stored (status, body) when this is a replay of a finished request."""
    record_id = f"{scope}:{key}"
    digest = fingerprint(body)
    try:
        await _collection(store).insert_one(
            {"_id": record_id, "fingerprint": digest, "state": "pending", "at": datetime.now(UTC)}
        )
        return None
    except DuplicateKeyError:
        pass
    except PyMongoError as exc:
        raise DependencyUnavailable(f"idempotency store: {exc}") from exc
    existing = await _collection(store).find_one({"_id": record_id})
    if existing is None:  # released between our insert and read: a retry may claim it
        raise IdempotencyConflict()
    if existing["fingerprint"] != digest:
        raise IdempotencyMismatch()
    if existing["state"] != "done":
        # A claim this old belongs to a process that died mid-request: take it over.
        stale = datetime.now(UTC) - STALE_AFTER
        taken = await _collection(store).update_one(
            {"_id": record_id, "state": "pending", "at": {"$lt": stale}}, {"$set": {"at": datetime.now(UTC)}}
        )
        if taken.modified_count == 1:
            return None
        raise IdempotencyConflict()
    return int(existing["status"]), dict(existing["response"])


async def complete(store: Store, scope: str, key: str, status: int, response: dict[str, Any]) -> None:
    """Remember the answer given for ``key``."""
    await _collection(store).update_one(
        {"_id": f"{scope}:{key}"}, {"$set": {"state": "done", "status": status, "response": response}}
    )


async def release(store: Store, scope: str, key: str) -> None:
    """Forget a claim whose request failed, so that a retry can do the work."""
    await _collection(store).delete_one({"_id": f"{scope}:{key}", "state": "pending"})


async def respond_once(
    store: Store,
    scope: str,
    key: str | None,
    body: bytes,
    work: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> JSONResponse:
    """Run ``work`` (returning status and JSON body) once per ``key``; replay its answer afterwards.

    Without a key the work simply runs. A failed run releases the key so that a retry can succeed.
    """
    if key is None:
        status, content = await work()
        return JSONResponse(content, status_code=status)
    replay = await claim(store, scope, key, body)
    if replay is not None:
        return JSONResponse(replay[1], status_code=replay[0], headers={"Idempotent-Replayed": "true"})
    try:
        status, content = await work()
    except BaseException:
        await release(store, scope, key)
        raise
    await complete(store, scope, key, status, content)
    return JSONResponse(content, status_code=status)
