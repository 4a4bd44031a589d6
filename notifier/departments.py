"""Department notices: a signed webhook to the URL a department configured, when a complaint is routed
to it, escalated, nearly due, or reopened by the citizen.

The body is JSON; ``X-Pasokh-Signature: sha256=<hex>`` is HMAC-SHA256 of the exact body bytes with the
department's secret, and ``X-Pasokh-Notice-Id`` is stable across retries (receivers drop repeats by it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from notifier.settings import DepartmentHook, DepartmentSettings
from services.errors import PasokhError

SIGNATURE_HEADER = "X-Pasokh-Signature"
NOTICE_ID_HEADER = "X-Pasokh-Notice-Id"


class NoticeRejected(PasokhError):
    """The department's endpoint refused the notice (4xx other than 408/429)."""

    retriable = False


class NoticeUnavailable(PasokhError):
    """The department's endpoint could not take the notice now."""

    retriable = True


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(notice: dict[str, Any]) -> bytes:
    """The notice as the bytes that are signed and sent."""
    return json.dumps(notice, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class DepartmentNotices:
    """Posts signed notices to each department's configured URL."""

    def __init__(self, settings: DepartmentSettings) -> None:
        self._hooks = settings.hooks
        self._client = httpx.AsyncClient(timeout=settings.timeout_seconds)

    def hook(self, department: str) -> DepartmentHook | None:
        """The department's webhook, or None when it has none."""
        return self._hooks.get(department)

    async def post(self, department: str, notice_id: str, body: bytes) -> None:
        """POST ``body`` signed; raise NoticeRejected / NoticeUnavailable when it is not taken."""
        hook = self._hooks[department]
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(hook.secret.get_secret_value(), body),
            NOTICE_ID_HEADER: notice_id,
        }
        try:
            response = await self._client.post(str(hook.url), content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NoticeUnavailable(f"department endpoint unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            return
        if response.status_code >= 500 or response.status_code in (408, 425, 429):
            raise NoticeUnavailable(f"department endpoint answered {response.status_code}")
        raise NoticeRejected(f"department endpoint refused the notice: {response.status_code}")

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
