"""The generic ``http`` provider of DESIGN.md: ``POST {"to", "text", "id"}``, 2xx means accepted.

Error mapping: no answer (refused connection, time-out) and the statuses 408, 425, 429 and 5xx are
retriable (:class:`SmsUnavailable`); every other status refuses this message for good
(:class:`SmsRejected`). The provider's message id for delivery reports is our ``id``.

This adapter is on every SMS's path, so it uses aiohttp (already installed with faust) rather than the
httpx of the other adapters: on this machine a POST over a kept-alive connection costs about 0.1 ms of
CPU with aiohttp against about 1.8 ms with httpx 0.28 (docs/performance.md, the notifier section).
"""

from __future__ import annotations

import json

import aiohttp

from notifier.sms import Sms, SmsGateway, SmsOutcomeUnknown, SmsReceipt, SmsRejected, SmsUnavailable

# Statuses after which the same request may succeed later.
_RETRIABLE = {408, 425, 429}
# The request never reached the provider (no connection, a connection or pool time-out, a bad URL):
# safe to hand the message to another provider. Any other failure may come after the provider took it.
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)
# Kept-alive connections to the provider: above the batched path's SMS in flight (notifier/batch.py).
POOL = 20


class HttpSms(SmsGateway):
    """Posts each SMS as JSON to one URL."""

    name = "http"

    def __init__(self, url: str, *, timeout: float, connections: int = POOL) -> None:
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connections = connections
        # Made on the first send: an aiohttp session belongs to the event loop it was made in.
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"Content-Type": "application/json"},
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def send(self, sms: Sms) -> SmsReceipt:
        """POST the message; classify failures as retriable or not."""
        body = json.dumps({"to": sms.to, "text": sms.text, "id": sms.id}, ensure_ascii=False).encode()
        try:
            async with self._client().post(self._url, data=body) as response:
                await response.read()  # the connection goes back to the pool for the next SMS
                status = response.status
        except _NOT_SENT as exc:
            raise SmsUnavailable(f"SMS endpoint unreachable: {type(exc).__name__}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SmsOutcomeUnknown(f"SMS endpoint did not answer: {type(exc).__name__}") from exc
        if 200 <= status < 300:
            return SmsReceipt(self.name, sms.id)
        if status >= 500 or status in _RETRIABLE:
            raise SmsUnavailable(f"SMS endpoint answered {status}")
        raise SmsRejected(f"SMS endpoint refused the message: {status}")

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None
