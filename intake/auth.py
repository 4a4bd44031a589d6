"""Who may call what: API keys for partner systems and staff, shown once, stored hashed, revocable.

A key reads ``pk_<key id>_<secret>``. Only a SHA-256 digest of the secret is stored (the secret has
256 bits of entropy, so a plain digest cannot be brute-forced). Staff keys also carry a role and the
departments whose complaints they may act on.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from pymongo.errors import PyMongoError

from intake.errors import Forbidden, Unauthorized
from services.errors import DependencyUnavailable
from services.store import Doc, Store

SCOPES: dict[str, str] = {
    "complaints:write": "submit complaints as a partner system (Open311 POST requests, /v1/events submitted)",
    "complaints:read": "read any complaint by id, with its full public record",
    "events:write": "post CloudEvents from a partner system (e.g. status updates from a work-order system)",
    "staff": "act on complaints of the key's departments (acknowledge, comment, reassign, resolve, reopen…)",
    "admin": "everything, in every department",
}
Role = Literal["operator", "department", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("operator", "department", "supervisor", "admin")
PREFIX = "pk"


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid key."""

    key_id: str
    name: str
    scopes: frozenset[str]
    role: Role | None = None
    departments: frozenset[str] = frozenset()

    def has(self, scope: str) -> bool:
        """True if the key grants ``scope`` (``admin`` grants every scope)."""
        return scope in self.scopes or "admin" in self.scopes

    def may_act_on(self, department: str | None, *, triage_department: str) -> bool:
        """Department staff act on their own departments; operators on the triage desk; supervisors
        and admins everywhere."""
        if self.role in ("admin", "supervisor") or "admin" in self.scopes:
            return True
        if self.role == "operator" and department == triage_department:
            return True
        return department is not None and department in self.departments


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _keys(store: Store) -> Any:
    return store.db["api_keys"]


async def create_key(
    store: Store,
    *,
    name: str,
    scopes: Iterable[str],
    role: Role | None = None,
    departments: Iterable[str] = (),
) -> tuple[str, Doc]:
    """Create a key; return the full key (shown once, never stored) and its stored record."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)})")
    if not scopes:
        raise ValueError("a key needs at least one scope")
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role} (known: {', '.join(ROLES)})")
    if "staff" in scopes and role is None:
        raise ValueError("a staff key needs a role")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    doc: Doc = {
        "_id": key_id,
        "name": name,
        "digest": _digest(secret),
        "scopes": scopes,
        "role": role,
        "departments": sorted(set(departments)),
        "created_at": datetime.now(UTC),
        "revoked_at": None,
    }
    await _keys(store).insert_one(doc)
    return f"{PREFIX}_{key_id}_{secret}", doc


async def authenticate(store: Store, raw: str) -> Principal | None:
    """The principal of ``raw``, or None for a malformed, unknown or revoked key."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    try:
        doc = await _keys(store).find_one({"_id": parts[1]})
    except PyMongoError as exc:  # answer 503, not 500: the key may well be valid
        raise DependencyUnavailable(f"could not check the API key: {exc}") from exc
    if doc is None or doc.get("revoked_at") is not None:
        return None
    if not hmac.compare_digest(doc["digest"], _digest(parts[2])):
        return None
    return Principal(
        key_id=doc["_id"],
        name=doc["name"],
        scopes=frozenset(doc["scopes"]),
        role=doc.get("role"),
        departments=frozenset(doc.get("departments") or ()),
    )


async def revoke(store: Store, key_id: str) -> bool:
    """Revoke ``key_id`` at once; False if there is no such active key."""
    result = await _keys(store).update_one(
        {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": datetime.now(UTC)}}
    )
    return bool(result.modified_count == 1)


async def list_keys(store: Store) -> list[Doc]:
    """Every key's record, without digests."""
    return [
        {k: v for k, v in doc.items() if k != "digest"}
        async for doc in _keys(store).find({}).sort("created_at", 1)
    ]


def presented_key(request: Request) -> str | None:
    """The key a request carries: ``Authorization: Bearer``, ``X-API-Key`` or Open311's ``api_key``."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or request.query_params.get("api_key") or None


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, 401 without a valid key, 403 without ``scope``."""

    async def dependency(request: Request) -> Principal:
        raw = presented_key(request)
        if raw is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            raw = str((await request.form()).get("api_key") or "") or None
        principal = await authenticate(request.app.state.intake.store, raw) if raw else None
        if principal is None:
            raise Unauthorized()
        if not principal.has(scope):
            raise Forbidden()
        request.app.state.intake.limits.per_key.take(principal.key_id)
        return principal

    return dependency


async def submitter(request: Request) -> Principal | None:
    """The partner behind a submission (a key with complaints:write), or None for a citizen.

    Anonymous submissions are limited per client IP; a partner's per key.
    """
    intake = request.app.state.intake
    raw = presented_key(request)
    principal = await authenticate(intake.store, raw) if raw else None
    if principal is not None and principal.has("complaints:write"):
        intake.limits.per_key.take(principal.key_id)
        return principal
    intake.limits.per_submitter.take(request.client.host if request.client else "unknown")
    return None


SubmitterDep = Annotated[Principal | None, Depends(submitter)]


StaffDep = Annotated[Principal, Depends(require("staff"))]
PartnerReadDep = Annotated[Principal, Depends(require("complaints:read"))]
PartnerWriteDep = Annotated[Principal, Depends(require("complaints:write"))]
EventsWriteDep = Annotated[Principal, Depends(require("events:write"))]
