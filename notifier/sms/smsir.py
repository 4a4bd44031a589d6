"""SMS.ir, by its REST API v1: ``POST {base}/v1/send/bulk`` with the ``x-api-key`` header.

The body is ``{"lineNumber", "messageText", "mobiles": [...], "sendDateTime": null}``; the answer is
``{"status", "message", "data": {"packId", "messageIds", "cost"}}`` with ``status`` 1 on success.
Errors come with HTTP 400 (a logical error), 401 (authentication), 429 or 5xx, and an API status:

- retriable, the provider is busy or broken: 0 (internal error), 20 (too many requests), HTTP 429 and
  5xx, no answer or a time-out;
- retriable, this *account* cannot send (another provider can, an operator can fix it): 10–15 (API
  key invalid, disabled or IP-restricted; account inactive or suspended; plan too small), 101 (line
  number invalid), 102 (credit exhausted), 119, 123 (line needs activation);
- rejected for good, this *message* can never go: 103 (empty text), 104 (invalid mobile), 115 (the
  number is on SMS.ir's blacklist), 117 (text not approved), and every other status.

SMS.ir's bulk API has no de-duplication id: a retry after a time-out, when SMS.ir had in fact
accepted the first try, can reach the citizen twice. Prefer Kavenegar (``localid``) as the primary.
SMS.ir sends to Iranian mobiles only; other numbers are rejected before any request.
"""

from __future__ import annotations

from typing import Any

import httpx

from notifier.sms import Sms, SmsGateway, SmsReceipt, SmsRejected, SmsUnavailable
from notifier.sms.transport import json_body, unavailable

DEFAULT_URL = "https://api.sms.ir"

BUSY = {0, 20}
ACCOUNT = {10, 11, 12, 13, 14, 15, 101, 102, 119, 123}


def mobile(phone: str) -> str:
    """``+989121234567`` → ``09121234567``; SMS.ir takes Iranian mobiles only."""
    if not phone.startswith("+989") or len(phone) != 13:
        raise SmsRejected("SMS.ir sends to Iranian mobile numbers only")
    return "0" + phone[3:]


class SmsIrSms(SmsGateway):
    """Sends each SMS with ``send/bulk`` (one mobile per request) from one line number."""

    name = "smsir"

    def __init__(self, api_key: str, line_number: int, *, url: str = DEFAULT_URL, timeout: float) -> None:
        self._endpoint = f"{url.rstrip('/')}/v1/send/bulk"
        self._line = line_number
        self._client = httpx.AsyncClient(
            timeout=timeout, headers={"x-api-key": api_key, "Accept": "application/json"}
        )

    async def send(self, sms: Sms) -> SmsReceipt:
        """Hand ``sms`` to SMS.ir; return its message id."""
        body = {
            "lineNumber": self._line,
            "messageText": sms.text,
            "mobiles": [mobile(sms.to)],
            "sendDateTime": None,
        }
        try:
            response = await self._client.post(self._endpoint, json=body)
        except httpx.HTTPError as exc:
            raise unavailable("SMS.ir", exc) from exc
        answer = json_body(response)
        status = answer.get("status")
        message = str(answer.get("message") or "")[:200]
        if response.is_success and status == 1:
            return SmsReceipt(self.name, _message_id(answer))
        if not isinstance(status, int) or isinstance(status, bool):
            # No API status (a proxy's error page, an empty body): judge by the HTTP status.
            reason = f"SMS.ir answered HTTP {response.status_code}"
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise SmsUnavailable(reason)
            if response.status_code == 401:
                raise SmsUnavailable(f"{reason} (account cannot send)")
            raise SmsRejected(reason)
        reason = f"SMS.ir {status}: {message}".rstrip(": ")
        if status in BUSY or response.status_code >= 500 or response.status_code == 429:
            raise SmsUnavailable(reason)
        if status in ACCOUNT:
            raise SmsUnavailable(f"{reason} (account cannot send)")
        raise SmsRejected(reason)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _message_id(answer: dict[str, Any]) -> str | None:
    data = answer.get("data")
    ids = data.get("messageIds") if isinstance(data, dict) else None
    return str(ids[0]) if isinstance(ids, list) and ids else None
