"""Kavenegar (kavenegar.com), by its REST API: ``POST {base}/v1/{API-KEY}/sms/send.json``.

The request is a form with ``receptor``, ``sender``, ``message`` and ``localid``. ``localid`` is
Kavenegar's de-duplication id: a second send with a ``localid`` it has seen is not sent again, the
earlier message is reported instead. We derive it from the notification id, so a retry after a
time-out (the provider may have accepted the first try) never reaches the citizen twice.

Kavenegar answers ``{"return": {"status", "message"}, "entries": [...]}``; ``return.status`` is 200 on
success and is also the HTTP status of an error answer. How each status is treated:

- retriable, the provider is busy or broken: 409 (server cannot answer now), 429, 451 (too many calls),
  every 5xx, no answer or a time-out;
- retriable, this *account* cannot send (another provider can, and an operator can fix it): 401 (account
  disabled), 403 (API key invalid), 407/416 (calling IP not allowed), 412 (sender line invalid), 418
  (credit exhausted), 426 (plan lacks the service), 402 (operation failed, unspecified);
- rejected for good, this *message* can never go: 411 (receptor invalid), 413 (text empty or too long),
  414, 422 (characters it cannot process), and every other 4xx (a request we built wrong);
- an entry whose own status is 6, 13 (failed or cancelled before sending) or 14 (the recipient blocks
  such SMS) is rejected too.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import httpx

from notifier.sms import Sms, SmsGateway, SmsOutcomeUnknown, SmsReceipt, SmsRejected, SmsUnavailable
from notifier.sms.transport import json_body, unavailable

DEFAULT_URL = "https://api.kavenegar.com"

# Busy or broken provider: the same request may succeed later.
BUSY = {409, 429, 451}
# The account cannot send anything now: retry, fail over, let an operator fix it.
ACCOUNT = {401, 402, 403, 407, 412, 416, 418, 426}
# Entry statuses in the send answer that mean the message will not go out.
ENTRY_REFUSED = {6: "failed before sending", 13: "cancelled", 14: "the recipient blocks such SMS"}


def localid(notification_id: str) -> str:
    """Kavenegar's numeric ``localid`` for a notification: stable, below 2**60."""
    return str(int(hashlib.sha256(notification_id.encode()).hexdigest()[:15], 16))


def receptor(phone: str) -> str:
    """``+989121234567`` → ``09121234567``; other countries in Kavenegar's ``00`` form."""
    digits = phone.lstrip("+")
    if phone.startswith("+98"):
        return "0" + digits[2:]
    return "00" + digits if phone.startswith("+") else phone


class KavenegarSms(SmsGateway):
    """Sends each SMS with ``sms/send.json`` from one sender line."""

    name = "kavenegar"

    def __init__(self, api_key: str, sender: str, *, url: str = DEFAULT_URL, timeout: float) -> None:
        self._endpoint = f"{url.rstrip('/')}/v1/{api_key}/sms/send.json"
        self._sender = sender
        self._client = httpx.AsyncClient(timeout=timeout)
        # The API key is part of the URL, which httpx logs at INFO: keep it out of the logs.
        httpx_log = logging.getLogger("httpx")
        httpx_log.setLevel(max(logging.WARNING, httpx_log.getEffectiveLevel()))

    async def send(self, sms: Sms) -> SmsReceipt:
        """Hand ``sms`` to Kavenegar; return its ``messageid``."""
        form = {
            "receptor": receptor(sms.to),
            "sender": self._sender,
            "message": sms.text,
            "localid": localid(sms.id),
        }
        try:
            response = await self._client.post(self._endpoint, data=form)
        except httpx.HTTPError as exc:
            raise unavailable("Kavenegar", exc) from exc
        body = json_body(response)
        returned = body.get("return")
        if not isinstance(returned, dict):
            if response.is_success:
                # A 2xx without Kavenegar's envelope (a proxy's page?): it may or may not have sent.
                raise SmsOutcomeUnknown(f"Kavenegar answered {response.status_code} without a result")
            returned = {}
        status = _int(returned.get("status"), default=response.status_code)
        message = str(returned.get("message") or "")[:200]
        if status == 200 and response.is_success:
            return SmsReceipt(self.name, _message_id(body))
        reason = f"Kavenegar {status}: {message}".rstrip(": ")
        if status in BUSY or status >= 500 or response.status_code >= 500:
            raise SmsUnavailable(reason)
        if status in ACCOUNT:
            raise SmsUnavailable(f"{reason} (account cannot send)")
        raise SmsRejected(reason)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _int(value: object, *, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return default
    try:
        return int(value)
    except ValueError:
        return default


def _message_id(body: dict[str, Any]) -> str | None:
    entries = body.get("entries")
    entry = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], dict) else {}
    state = _int(entry.get("status"), default=1)
    if state in ENTRY_REFUSED:
        raise SmsRejected(f"Kavenegar entry status {state}: {ENTRY_REFUSED[state]}")
    # Accepted without an id (not seen in practice): the SMS went out, only its reports cannot be matched.
    return str(entry["messageid"]) if entry.get("messageid") is not None else None
