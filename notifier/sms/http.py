"""The generic ``http`` provider of DESIGN.md: ``POST {"to", "text", "id"}``, 2xx means accepted.

Error mapping: no answer (refused connection, time-out) and the statuses 408, 425, 429 and 5xx are
retriable (:class:`SmsUnavailable`); every other status refuses this message for good
(:class:`SmsRejected`). The provider's message id for delivery reports is our ``id``.
"""

from __future__ import annotations

import httpx

from notifier.sms import Sms, SmsGateway, SmsReceipt, SmsRejected, SmsUnavailable
from notifier.sms.transport import unavailable

# Statuses after which the same request may succeed later.
_RETRIABLE = {408, 425, 429}


class HttpSms(SmsGateway):
    """Posts each SMS as JSON to one URL."""

    name = "http"

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self._client = httpx.AsyncClient(timeout=timeout)

    async def send(self, sms: Sms) -> SmsReceipt:
        """POST the message; classify failures as retriable or not."""
        try:
            response = await self._client.post(self._url, json={"to": sms.to, "text": sms.text, "id": sms.id})
        except httpx.HTTPError as exc:
            raise unavailable("SMS endpoint", exc) from exc
        if response.is_success:
            return SmsReceipt(self.name, sms.id)
        if response.status_code >= 500 or response.status_code in _RETRIABLE:
            raise SmsUnavailable(f"SMS endpoint answered {response.status_code}")
        raise SmsRejected(f"SMS endpoint refused the message: {response.status_code}")

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
