"""The generic ``http`` provider of DESIGN.md: ``POST {"to", "text", "id"}``, 2xx means accepted."""

from __future__ import annotations

import httpx

from notifier.sms import Sms, SmsGateway, SmsRejected, SmsUnavailable

# Statuses after which the same request may succeed later.
_RETRIABLE = {408, 425, 429}


class HttpSms(SmsGateway):
    """Posts each SMS as JSON to one URL."""

    name = "http"

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self._client = httpx.AsyncClient(timeout=timeout)

    async def send(self, sms: Sms) -> None:
        """POST the message; classify failures as retriable or not."""
        try:
            response = await self._client.post(self._url, json={"to": sms.to, "text": sms.text, "id": sms.id})
        except httpx.HTTPError as exc:
            raise SmsUnavailable(f"SMS endpoint unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            return
        if response.status_code >= 500 or response.status_code in _RETRIABLE:
            raise SmsUnavailable(f"SMS endpoint answered {response.status_code}")
        raise SmsRejected(f"SMS endpoint refused the message: {response.status_code}")

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
