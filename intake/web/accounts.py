"""Staff accounts of the web console (argon2 password hashes in MongoDB) and their signed sessions.

A session is a cookie signed with ``PASOKH_SECRET_KEY`` (itsdangerous) holding the username, a CSRF
token and the account's password version; the account is read on every request, so disabling it or
changing its password ends its sessions at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from intake.auth import ROLES, Principal, Role
from services.store import Doc, Store

COLLECTION = "web_users"
SESSION_COOKIE = "pasokh_session"
SESSION_SECONDS = 12 * 3600
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    """A signed-in staff member."""

    username: str
    name: str
    role: Role
    departments: frozenset[str]
    csrf: str

    def principal(self) -> Principal:
        """The same principal an API key of this role would give: the console acts through intake/staff.py."""
        return Principal(
            key_id=f"user:{self.username}",
            name=self.name,
            scopes=frozenset({"staff"}),
            role=self.role,
            departments=self.departments,
        )


def _users(store: Store) -> Any:
    return store.db[COLLECTION]


async def create_user(
    store: Store, *, username: str, name: str, password: str, role: str, departments: Iterable[str] = ()
) -> Doc:
    """Create an account; ValueError for a bad username, role or a short password, or a taken username."""
    if not USERNAME.match(username):
        raise ValueError("username: 2–32 of a-z 0-9 . _ -, starting with a letter or digit")
    if role not in ROLES:
        raise ValueError(f"unknown role {role} (known: {', '.join(ROLES)})")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    if role == "department" and not departments:
        raise ValueError("department staff need at least one --department")
    if await _users(store).find_one({"_id": username}) is not None:
        raise ValueError(f"user {username} exists")
    doc: Doc = {
        "_id": username,
        "name": name,
        "password_hash": _hasher.hash(password),
        "password_version": secrets.token_hex(4),
        "role": role,
        "departments": sorted(set(departments)),
        "created_at": datetime.now(UTC),
        "disabled_at": None,
    }
    await _users(store).insert_one(doc)
    return doc


async def list_users(store: Store) -> list[Doc]:
    """Every account, without password hashes."""
    return [
        {k: v for k, v in doc.items() if k not in ("password_hash", "password_version")}
        async for doc in _users(store).find({}).sort("_id", 1)
    ]


async def disable_user(store: Store, username: str) -> bool:
    """Disable ``username`` at once (its sessions end); False if there is no such active account."""
    result = await _users(store).update_one(
        {"_id": username, "disabled_at": None}, {"$set": {"disabled_at": datetime.now(UTC)}}
    )
    return bool(result.modified_count == 1)


async def enable_user(store: Store, username: str) -> bool:
    """Let a disabled account sign in again (with a new session); False if there is no such disabled
    account."""
    result = await _users(store).update_one(
        {"_id": username, "disabled_at": {"$ne": None}}, {"$set": {"disabled_at": None}}
    )
    return bool(result.modified_count == 1)


async def set_password(store: Store, username: str, password: str) -> bool:
    """Replace ``username``'s password (its open sessions end); ValueError for a short password, False
    if there is no such account."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    result = await _users(store).update_one(
        {"_id": username},
        {"$set": {"password_hash": _hasher.hash(password), "password_version": secrets.token_hex(4)}},
    )
    return bool(result.matched_count == 1)


async def verify_password(store: Store, username: str, password: str) -> Doc | None:
    """The active account if ``password`` is its password, else None."""
    doc = await _users(store).find_one({"_id": username.strip().lower()})
    try:
        if doc is None or doc.get("disabled_at") is not None:
            _hasher.verify(_DUMMY_HASH, password)
            return None
        _hasher.verify(doc["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    return dict(doc)


class Sessions:
    """Signs and reads session cookies."""

    def __init__(self, secret: str) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="pasokh-console-session")

    def issue(self, doc: Doc) -> str:
        """A new session for an account, with a fresh CSRF token."""
        return self._signer.dumps(
            {"u": doc["_id"], "c": secrets.token_urlsafe(24), "v": doc["password_version"]}
        )

    def read(self, cookie: str | None) -> dict[str, str] | None:
        """The session's content, or None for a missing, forged or expired cookie."""
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None


async def current_user(store: Store, sessions: Sessions, cookie: str | None) -> User | None:
    """The signed-in user of a session cookie, if the account is still active and unchanged."""
    data = sessions.read(cookie)
    if data is None:
        return None
    doc = await _users(store).find_one({"_id": data.get("u")})
    if doc is None or doc.get("disabled_at") is not None or doc.get("password_version") != data.get("v"):
        return None
    return User(
        username=doc["_id"],
        name=doc["name"],
        role=doc["role"],
        departments=frozenset(doc.get("departments") or ()),
        csrf=str(data.get("c")),
    )
